// The dashboard as served, without a browser: /dashboard carries a
// Content-Security-Policy that allows this origin only, and nothing the page
// loads (its HTML, the modules it imports, transitively, and their styles)
// names another origin. The machine drawings come from the definitions.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { counts, MACHINES } from "../scripts/diagrams.ts";
import { apiClient } from "./support/api-client.ts";
import { testDatabase } from "./support/database.ts";

const db = await testDatabase({ max: 2 });
const { app } = apiClient(db.sql);
after(() => db.close());

const ORIGIN = "http://dashboard.test";
// Namespace names in Preact's source and the icon: identifiers, never fetched.
const NAMESPACE = /^http:\/\/www\.w3\.org\/\d{4}\/[A-Za-z/]+$/;

async function get(path: string) {
  const response = await app.request(new URL(path, ORIGIN).toString());
  return { response, text: await response.text() };
}

function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(";").map((part) => part.trim()).filter(Boolean).map((part) => {
      const [name, ...values] = part.split(/\s+/);
      return [name, values];
    }),
  );
}

test("GET /dashboard is HTML with a CSP that allows only this origin", async () => {
  const { response, text } = await get("/dashboard");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
  const policy = response.headers.get("content-security-policy");
  assert.ok(policy, "no Content-Security-Policy header");
  const parsed = directives(policy);
  assert.deepEqual(parsed.get("default-src"), ["'none'"]);
  for (const name of ["script-src", "style-src", "img-src", "connect-src"]) {
    assert.ok(parsed.get(name)?.includes("'self'"), `${name} allows 'self'`);
  }
  assert.deepEqual(parsed.get("frame-ancestors"), ["'none'"]);
  assert.deepEqual(parsed.get("base-uri"), ["'none'"]);
  for (const [name, values] of parsed) {
    for (const value of values) {
      // Keywords and hashes only: no host, scheme, wildcard, data: or 'unsafe-…'.
      assert.match(value, /^'(self|none|sha256-[A-Za-z0-9+/]+=*)'$/, `${name} ${value}`);
    }
  }
  assert.ok(text.includes('<script type="importmap">'));
  for (const [tag] of text.matchAll(/<script\b[^>]*>/g)) {
    assert.ok(
      /\ssrc="/.test(tag) || tag === '<script type="importmap">',
      `an inline script besides the import map: ${tag}`,
    );
  }
});

test("the import map is the one inline script, and the policy names its hash", async () => {
  const { response, text } = await get("/dashboard");
  const map = /<script type="importmap">([^<]*)<\/script>/.exec(text)?.[1];
  assert.ok(map);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(map)));
  const hash = `'sha256-${btoa(String.fromCharCode(...digest))}'`;
  assert.ok(directives(response.headers.get("content-security-policy")!).get("script-src")?.includes(hash));
});

test("nothing the page loads, transitively, names another origin", async () => {
  const { text: page } = await get("/dashboard");
  const importMap: Record<string, string> = JSON.parse(
    /<script type="importmap">([^<]*)<\/script>/.exec(page)![1],
  ).imports;
  const references = [...page.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.ok(references.length >= 3, "the page loads its icon, styles and entry module");
  for (const ref of [...references, ...Object.values(importMap)]) {
    assert.ok(ref.startsWith("/") && !ref.startsWith("//"), `${ref} is not a path on this origin`);
  }

  // Walk every module from the entry, resolving bare names through the import map.
  const queue = references.filter((ref) => ref.endsWith(".js") || ref.endsWith(".css") || ref.endsWith(".svg"));
  const seen = new Set<string>();
  while (queue.length) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const { response, text } = await get(path);
    assert.equal(response.status, 200, path);
    for (const url of text.match(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`)<>]+/gi) ?? []) {
      assert.match(url, NAMESPACE, `${path} names ${url}`);
    }
    assert.ok(!/@import|url\(\s*["']?(?!data:)[a-z]+:/i.test(text), `${path} pulls in a stylesheet or image`);
    if (!/javascript/.test(response.headers.get("content-type") ?? "")) continue;
    const specifiers = [
      ...text.matchAll(/\b(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']/g),
      ...text.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g),
      ...text.matchAll(/\bimport\s*["']([^"']+)["']/g),
    ].map((m) => m[1]);
    for (const specifier of specifiers) {
      const resolved = importMap[specifier] ?? new URL(specifier, new URL(path, ORIGIN)).toString();
      const url = new URL(resolved, ORIGIN);
      assert.equal(url.origin, ORIGIN, `${path} imports ${specifier} from another origin`);
      queue.push(url.pathname);
    }
  }
  // The entry, its own modules and the three libraries were all reached.
  for (const expected of ["/dashboard/app/main.js", "/dashboard/app/machines.js", "/dashboard/vendor/hooks.mjs"]) {
    assert.ok(seen.has(expected), `${expected} was not reached from the page`);
  }
  assert.ok([...seen].filter((p) => p.startsWith("/dashboard/vendor/")).length >= 4);
});

test("the page needs no token and holds none; the API still does", async () => {
  const { text } = await get("/dashboard");
  assert.ok(!text.includes("test-token"), "the page embeds the token");
  const api = await get("/admin/api/v1/deliveries");
  assert.equal(api.response.status, 401);
});

test("only the dashboard's own files are served", async () => {
  for (
    const path of [
      "/dashboard/app/..%2Findex.ts",
      "/dashboard/app/../index.ts",
      "/dashboard/app/missing.js",
      "/dashboard/app/Main.js",
      "/dashboard/vendor/compat.mjs",
      "/dashboard/vendor/..%2F..%2Fpackage.json",
    ]
  ) {
    const { response, text } = await get(path);
    assert.equal(response.status, 404, `${path}: ${text.slice(0, 80)}`);
    assert.equal(typeof JSON.parse(text).error.code, "string");
  }
});

test("/dashboard/machines.json is every state and transition of every machine", async () => {
  const { response, text } = await get("/dashboard/machines.json");
  assert.equal(response.status, 200);
  const { machines } = JSON.parse(text) as {
    machines: { name: string; states: { id: string; parent: string | null }[]; transitions: { source: string }[] }[];
  };
  assert.deepEqual(machines.map((m) => m.name), MACHINES.map((m) => m.name));
  for (const { name, machine } of MACHINES) {
    const graph = machines.find((m) => m.name === name)!;
    const expected = counts(machine);
    assert.equal(graph.states.length, expected.states, `${name} states`);
    assert.equal(graph.transitions.length, expected.transitions, `${name} transitions`);
    assert.equal(graph.states[0].id, machine.id);
    const ids = new Set(graph.states.map((s) => s.id));
    for (const s of graph.states.slice(1)) assert.ok(ids.has(s.parent!), `${s.id}'s parent`);
    for (const t of graph.transitions) assert.ok(ids.has(t.source), `${name}: transition from ${t.source}`);
  }
  const webhook = machines.find((m) => m.name === "webhook")!;
  assert.deepEqual(webhook.states.map((s) => s.id), [
    "webhook",
    "webhook.breaker",
    "webhook.breaker.closed",
    "webhook.breaker.open",
    "webhook.breaker.half_open",
    "webhook.pace",
    "webhook.pace.flowing",
    "webhook.pace.paused",
  ]);
});
