// The API's configuration: STATEHOOK_MAX_BODY_BYTES, STATEHOOK_ATTEMPT_RETENTION_DAYS,
// the bearer token's charset, and the generated token: printed once on the
// first start, kept in the data directory, and the same after a restart. And
// the limits on hostile callers (webhooks per user, bytes per publish,
// platform webhooks, the request body's deadline), whose behaviour
// test/api-hostile-callers.test.ts checks.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateApiToken, loadApiToken, TOKEN_FILE } from "../src/start/api-token.ts";
import { loadConfig } from "../src/start/config.ts";
import { assertConfigRefused } from "./support/config-refusal.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { startService, until } from "./support/service.ts";

let db: TestDatabase;
let dir: string;
before(async () => {
  db = await testDatabase();
  dir = await mkdtemp(join(tmpdir(), "statehook-api-config-"));
});
after(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test("body limit and attempt retention have defaults and are parsed", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.maxBodyBytes, 1024 * 1024);
  assert.equal(defaults.attemptRetentionDays, 30);
  const set = loadConfig({ STATEHOOK_MAX_BODY_BYTES: "4096", STATEHOOK_ATTEMPT_RETENTION_DAYS: "0" });
  assert.equal(set.maxBodyBytes, 4096);
  assert.equal(set.attemptRetentionDays, 0, "0 keeps the attempt log forever");
});

const bad: [string, string][] = [
  ["STATEHOOK_MAX_BODY_BYTES", "1mb"],
  ["STATEHOOK_MAX_BODY_BYTES", "10"],
  ["STATEHOOK_MAX_BODY_BYTES", "999999999999"],
  ["STATEHOOK_ATTEMPT_RETENTION_DAYS", "-1"],
  ["STATEHOOK_ATTEMPT_RETENTION_DAYS", "a week"],
  ["STATEHOOK_API_TOKEN", "has spaces in the token value"],
  ["STATEHOOK_API_TOKEN", 'quote"0123456789abcdef'],
];

for (const [name, value] of bad) {
  test(`${name}=${JSON.stringify(value)} stops start-up with one line naming it`, () => {
    assertConfigRefused(name, value, (error) => {
      if (name === "STATEHOOK_API_TOKEN") assert.ok(!error.message.includes(value), "the token is not echoed");
    });
  });
}

test("a bearer-safe token of 16+ characters is accepted", () => {
  assert.equal(
    loadConfig({ STATEHOOK_API_TOKEN: "abc.DEF_ghi~jkl+mno/pqr-==" }).apiToken,
    "abc.DEF_ghi~jkl+mno/pqr-==",
  );
  assert.match(generateApiToken(), /^sht_[A-Za-z0-9_-]{43}$/);
});

test("the token comes from the environment, else the data dir, else is generated and kept (mode 0600)", async () => {
  const data = join(dir, "tokens");
  assert.deepEqual(await loadApiToken("from-env-0123456789", data), {
    token: "from-env-0123456789",
    source: "environment",
  });
  const generated = await loadApiToken(undefined, data);
  assert.equal(generated.source, "generated");
  assert.equal((await readFile(join(data, TOKEN_FILE), "utf8")).trim(), generated.token);
  assert.equal((await stat(join(data, TOKEN_FILE))).mode & 0o777, 0o600);
  const again = await loadApiToken(undefined, data);
  assert.deepEqual(again, { token: generated.token, source: "file", path: join(data, TOKEN_FILE) });
  // Replicas generating at once end up with one token, never a half-written one.
  for (let round = 0; round < 20; round++) {
    const fresh = join(dir, `race-${round}`);
    const all = await Promise.all(Array.from({ length: 6 }, () => loadApiToken(undefined, fresh)));
    assert.equal(new Set(all.map((t) => t.token)).size, 1);
    assert.equal(all.filter((t) => t.source === "generated").length, 1);
    assert.deepEqual(await readdir(fresh), [TOKEN_FILE], "no scratch files left");
  }
  const fresh = join(dir, "race-0");
  await writeFile(join(fresh, TOKEN_FILE), "not a token!\n");
  await assert.rejects(loadApiToken(undefined, fresh), /does not hold a usable API token/);
});

test("the service prints a generated token once, keeps it across a restart, and the API takes only it", async () => {
  const dataDir = join(dir, "service");
  const env = { DATABASE_URL: db.url, STATEHOOK_DATA_DIR: dataDir, STATEHOOK_API_TOKEN: "" };
  const first = await startService({ env });
  let token: string;
  try {
    const match = /generated an API token \(kept in [^)]+\): (\S+)/.exec(first.stderr());
    assert.ok(match, first.stderr());
    token = match[1];
    const path = `/admin/api/v1/users/${crypto.randomUUID()}/webhooks`;
    assert.equal((await fetch(first.url + path, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    for (const line of first.logs) assert.ok(!JSON.stringify(line).includes(token), "not in the JSON log");
  } finally {
    await first.stop();
  }
  const second = await startService({ env });
  try {
    assert.ok(!second.stderr().includes(token), "printed once only");
    const path = `/admin/api/v1/users/${crypto.randomUUID()}/webhooks`;
    const ok = await fetch(second.url + path, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200, "the same token after a restart");
    await ok.body?.cancel();
    const refused = await fetch(second.url + path, { headers: { authorization: "Bearer some-other-token-0123" } });
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error.code, "unauthorized");
    // The line is written as the answer goes out and reaches us through a pipe: it may trail the answer.
    const line = await until(
      () => second.logs.find((l) => l.msg === "request" && l.status === 401),
      5000,
      "the request logged",
    );
    assert.equal(line.route, "/admin/api/v1/users/:user_id/webhooks", "the route pattern, not the path with its ids");
    assert.equal(line.method, "GET");
  } finally {
    await second.stop();
  }
});

test("the limits on hostile callers have defaults and are parsed", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.maxWebhooksPerUser, 100);
  assert.equal(defaults.maxPublishBytes, 16 * 1024 * 1024);
  assert.equal(defaults.allowPlatformWebhooks, false);
  assert.equal(defaults.requestTimeoutMs, 10_000);
  const set = loadConfig({
    STATEHOOK_MAX_WEBHOOKS_PER_USER: "5",
    STATEHOOK_MAX_PUBLISH_BYTES: "1048576",
    STATEHOOK_ALLOW_PLATFORM_WEBHOOKS: "true",
    STATEHOOK_REQUEST_TIMEOUT_MS: "1000",
  });
  assert.equal(set.maxWebhooksPerUser, 5);
  assert.equal(set.maxPublishBytes, 1048576);
  assert.equal(set.allowPlatformWebhooks, true);
  assert.equal(set.requestTimeoutMs, 1000);
});

const badLimits: [string, string][] = [
  ["STATEHOOK_MAX_WEBHOOKS_PER_USER", "0"],
  ["STATEHOOK_MAX_WEBHOOKS_PER_USER", "lots"],
  ["STATEHOOK_MAX_PUBLISH_BYTES", "16MiB"],
  ["STATEHOOK_MAX_PUBLISH_BYTES", "10"],
  ["STATEHOOK_ALLOW_PLATFORM_WEBHOOKS", "sometimes"],
  ["STATEHOOK_REQUEST_TIMEOUT_MS", "0"],
  ["STATEHOOK_REQUEST_TIMEOUT_MS", "1.5"],
];

for (const [name, value] of badLimits) {
  test(`${name}=${JSON.stringify(value)} stops start-up with one line naming it`, () => {
    assertConfigRefused(
      name,
      value,
      (error) => assert.ok(error.message.startsWith(`${name}: expected `), error.message),
    );
  });
}
