// Property: no input reaches a 500. fast-check feeds every route random JSON
// bodies (near-valid ones too, so the deeper checks run), random ids, query
// strings, content types and paths; every answer must be below 500, and
// every 4xx must carry an error code and message.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { apiHarness } from "./support/api-client.ts";

const { db, api } = await apiHarness({ maxBodyBytes: 64 * 1024 });
const userId = crypto.randomUUID();
const webhookId = crypto.randomUUID();
const deliveryId = crypto.randomUUID();

/** The fixture the generators aim at; re-made when a DELETE in an earlier run removed it. */
async function fixture() {
  await db.sql`INSERT INTO user_webhooks (id, user_id, url, secret)
    VALUES (${webhookId}, ${userId}, 'https://hooks.example.com/x', 'whsec_AAAA') ON CONFLICT (id) DO NOTHING`;
  await db.sql`INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, status)
    VALUES (${deliveryId}, ${webhookId}, gen_random_uuid(), 'a.b', '{}', 'exhausted') ON CONFLICT (id) DO NOTHING`;
}

before(async () => await fixture());

const RUNS = 150;

/** Percent-encodes any string, unpaired surrogates too (as U+FFFD), where encodeURIComponent would throw. */
const encodeSegment = (s: string) =>
  Array.from(
    new TextEncoder().encode(s),
    (b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : `%${b.toString(16).padStart(2, "0")}`),
  ).join("");

const anyJson = fc.jsonValue({ maxDepth: 4, stringUnit: "binary" });
const weirdString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "\u0000", "\ud800", "a.b", "..", "%00"),
);
const idLike = () =>
  fc.oneof(
    fc.constantFrom(userId, webhookId, deliveryId),
    fc.uuid(),
    weirdString.map(encodeSegment),
    fc.constantFrom(
      "00000000-0000-0000-0000-000000000000",
      "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
      "%",
      "%zz",
      "..",
      ".",
    ),
  );
/** Mostly a well-typed value, sometimes any JSON at all. */
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: anyJson });

const eventTypes = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.constant(null),
      fc.array(fc.constantFrom("a.b", "batch.completed"), { minLength: 1, maxLength: 3 }),
    ),
  },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.constantFrom("a.b", "x"), weirdString), { maxLength: 4 }) },
);
const url = fc.oneof(
  { weight: 3, arbitrary: fc.webUrl({ validSchemes: ["https"] }) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.webUrl(),
      fc.constantFrom("http://localhost/x", "https://10.0.0.1/", "https://[::1]/", "http://x"),
    ),
  },
);
const description = fc.oneof(fc.constant(null), fc.string({ maxLength: 20 }), weirdString);

const createBody = fc.record({
  url: maybe(url),
  event_types: maybe(eventTypes),
  description: maybe(description),
  scope: maybe(fc.constantFrom("own", "platform", "other")),
}, { requiredKeys: ["url"] });

const patchBody = fc.record({
  url: maybe(url),
  enabled: maybe(fc.boolean()),
  event_types: maybe(eventTypes),
  description: maybe(description),
}, { requiredKeys: [] });

const eventBody = fc.record({
  event_type: maybe(fc.oneof(fc.constantFrom("a.b", "batch.completed", "x"), weirdString)),
  data: maybe(fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), anyJson, { maxKeys: 4 })),
  user_id: maybe(fc.oneof(fc.constant(userId), fc.uuid(), fc.constant(null))),
  resource_id: maybe(fc.oneof(fc.uuid(), fc.constant(null))),
}, { requiredKeys: ["event_type", "data"] });

const instant = fc.oneof(
  { weight: 3, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: weirdString },
);
const recoverBody = fc.record({ since: maybe(instant), until: maybe(instant) }, { requiredKeys: ["since"] });

const body = fc.oneof(
  { weight: 2, arbitrary: recoverBody.map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: createBody.map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: patchBody.map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: eventBody.map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: anyJson.map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const contentType = fc.constantFrom<string | undefined>(
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "application/vnd.api+json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  undefined,
);

const query = fc.oneof(
  fc.constant(""),
  fc.record({
    status: fc.oneof(fc.constantFrom("pending", "delivered", "failed", "exhausted"), weirdString),
    limit: fc.oneof(fc.integer({ min: -5, max: 200 }).map(String), weirdString),
    cursor: weirdString,
    since: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), weirdString),
    until: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), weirdString),
    enabled: fc.oneof(fc.constantFrom("true", "false"), weirdString),
    webhook_id: fc.oneof(fc.constant(webhookId), weirdString),
    event_type: fc.oneof(fc.constant("a.b"), weirdString),
  }, { requiredKeys: [] }).map((q) => "?" + new URLSearchParams(q as Record<string, string>).toString()),
);

const routes: [string, (ids: { user: string; webhook: string; delivery: string }) => string][] = [
  ["GET", (i) => `/admin/api/v1/users/${i.user}/webhooks`],
  ["POST", (i) => `/admin/api/v1/users/${i.user}/webhooks`],
  ["GET", (i) => `/admin/api/v1/users/${i.user}/webhooks/${i.webhook}`],
  ["PATCH", (i) => `/admin/api/v1/users/${i.user}/webhooks/${i.webhook}`],
  ["DELETE", (i) => `/admin/api/v1/users/${i.user}/webhooks/${i.webhook}`],
  ["POST", (i) => `/admin/api/v1/users/${i.user}/webhooks/${i.webhook}/rotate-secret`],
  ["GET", (i) => `/admin/api/v1/users/${i.user}/webhooks/${i.webhook}/deliveries`],
  ["POST", () => "/admin/api/v1/events"],
  ["GET", (i) => `/admin/api/v1/deliveries/${i.delivery}`],
  ["POST", (i) => `/admin/api/v1/deliveries/${i.delivery}/retry`],
  ["GET", () => "/healthz"],
  ["GET", () => "/readyz"],
  ["GET", () => "/metrics"],
  ["GET", () => "/openapi.json"],
  ["GET", () => "/admin/api/v1/webhooks"],
  ["GET", () => "/admin/api/v1/deliveries"],
  ["POST", (i) => `/admin/api/v1/users/${i.user}/webhooks/${i.webhook}/recover`],
];

async function check(
  method: string,
  path: string,
  text: string | undefined,
  type: string | undefined,
  withToken = true,
) {
  const headers: Record<string, string> = withToken ? { authorization: "Bearer test-token-0123456789abcdef" } : {};
  if (type) headers["content-type"] = type;
  const response = await api.app.request(path, { method, body: method === "GET" ? undefined : text, headers });
  const answer = await response.text();
  const where = `${method} ${path} ${type} ${JSON.stringify(text)?.slice(0, 200)} → ${response.status} ${
    answer.slice(0, 200)
  }`;
  assert.ok(response.status < 500, where);
  if (response.status >= 400) {
    const parsed = JSON.parse(answer);
    assert.equal(typeof parsed.error.code, "string", where);
    assert.ok(typeof parsed.error.message === "string" && parsed.error.message.length > 0, where);
  }
  return response.status;
}

test("random bodies, ids, queries and content types on every route never give a 5xx", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      idLike(),
      idLike(),
      idLike(),
      body,
      contentType,
      query,
      async ([method, path], user, webhook, delivery, text, type, q) => {
        await check(method, path({ user, webhook, delivery }) + q, text, type);
      },
    ),
    { numRuns: RUNS * 3 },
  );
});

/** Each route with the bodies aimed at it: mostly its own near-valid shape, sometimes anything. */
const aimed = fc.constantFrom(...routes).chain(([method, path]) => {
  const own = path === routes[1][1]
    ? createBody
    : path === routes[3][1]
    ? patchBody
    : path === routes[7][1]
    ? eventBody
    : path({ user: "u", webhook: "w", delivery: "d" }).endsWith("/recover")
    ? recoverBody
    : undefined;
  const text = own
    ? fc.oneof({ weight: 4, arbitrary: own.map((b) => JSON.stringify(b)) }, { weight: 1, arbitrary: body })
    : body;
  return fc.tuple(fc.constant(method), fc.constant(path), text);
});

test("random bodies with the right ids (so the handlers run) never give a 5xx", async () => {
  const seen = new Set<number>();
  const ids = { user: userId, webhook: webhookId, delivery: deliveryId };
  await fc.assert(
    fc.asyncProperty(aimed, async ([method, path, text]) => {
      await fixture();
      seen.add(await check(method, path(ids), text, "application/json"));
    }),
    {
      numRuns: RUNS * 2,
      // Always among the runs, so the success paths are certainly taken.
      examples: [
        [["POST", routes[1][1], JSON.stringify({ url: "https://hooks.example.com/y", event_types: ["a.b"] })]],
        [["POST", routes[7][1], JSON.stringify({ event_type: "a.b", data: { k: [1, "two", null] }, user_id: userId })]],
      ],
    },
  );
  for (const status of [200, 201, 202, 400]) assert.ok(seen.has(status), `saw ${[...seen].sort()}`);
});

const segment = fc.oneof(
  fc.constantFrom(
    "admin",
    "api",
    "v1",
    "users",
    "webhooks",
    "deliveries",
    "events",
    "retry",
    "rotate-secret",
    "docs",
    "metrics",
    "",
    ".",
    "..",
  ),
  fc.uuid(),
  fc.string({ unit: "binary", maxLength: 12 }).map(encodeSegment),
);

test("random paths and methods, with and without the token, never give a 5xx", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"),
      fc.array(segment, { minLength: 0, maxLength: 8 }),
      fc.boolean(),
      body,
      contentType,
      async (method, segments, prefixed, text, type) => {
        const path = (prefixed ? "/admin/api/v1/" : "/") + segments.join("/");
        await check(method, path, text, type, prefixed || segments.length % 2 === 0);
      },
    ),
    { numRuns: RUNS * 2 },
  );
});

test("without the token, every /admin/api request is a 401, whatever else it carries", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes.slice(0, 10)),
      idLike(),
      body,
      contentType,
      fc.oneof(
        fc.constant(undefined),
        fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
        fc.string({ maxLength: 40 }),
      ),
      async ([method, path], id, text, type, authorization) => {
        const headers: Record<string, string> = {};
        if (type) headers["content-type"] = type;
        if (authorization !== undefined) headers.authorization = authorization;
        let response: Response;
        try {
          response = await api.app.request(path({ user: id, webhook: id, delivery: id }), {
            method,
            body: method === "GET" ? undefined : text,
            headers,
          });
        } catch (error) {
          // A header value fetch itself refuses never reaches the server.
          if (error instanceof TypeError) return;
          throw error;
        }
        assert.equal(response.status, 401);
        assert.equal((await response.json()).error.code, "unauthorized");
      },
    ),
    { numRuns: RUNS },
  );
});
