// Receivers that misbehave, against the real service process: each fault
// costs one failed attempt with the right last_status_code / last_error, and
// the dispatcher keeps delivering to a healthy receiver right after.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../src/db/embedded.ts";
import { testDatabase } from "./support/database.ts";
import { HUGE_BODY_BYTES, startFaultReceiver } from "./support/fault-receiver.ts";
import { startReceiver } from "./support/receiver.ts";
import { namespaceFiles, seedDeliveries, seedWebhooks } from "./support/seed.ts";
import { startService, until } from "./support/service.ts";

// Set up at load time: bun's node:test ignores a hook's timeout option.
const db = await testDatabase();
const faults = await startFaultReceiver();
const healthy = await startReceiver();
const dir = await mkdtemp(join(tmpdir(), "statehook-faults-"));
const [healthyWebhook] = await seedWebhooks(db.sql, [`${healthy.url}/ok`]);
const service = await startService({
  env: {
    DATABASE_URL: db.url,
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_TIMEOUT_SECS: "1",
    // One attempt now, the next an hour away: each test sees exactly one.
    STATEHOOK_RETRY_SCHEDULE: "0,3600",
    STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "1000",
  },
  // The unresolvable host must fail on this machine, not at a DNS server.
  namespace: await namespaceFiles(dir, {}),
});

after(async () => {
  await service.stop();
  await faults.close();
  await healthy.close();
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

type Row = { status: string; attempt_count: number; last_status_code: number | null; last_error: string | null };

/** Sends one delivery to `url`, waits for its first attempt to be recorded, then checks a healthy delivery goes through. */
async function oneAttemptAt(
  url: string,
  timeoutMs = 10_000,
): Promise<Row & { duration_ms: number; response_body: string | null }> {
  const [webhookId] = await seedWebhooks(db.sql, [url]);
  await seedDeliveries(db.sql, [webhookId], 1);
  const row = await until(
    async () => {
      const [r] = await db.sql<(Row & { duration_ms: number; response_body: string | null })[]>`
      SELECT d.status, d.attempt_count, d.last_status_code, d.last_error, a.duration_ms, a.response_body
      FROM webhook_deliveries d LEFT JOIN webhook_delivery_attempts a ON a.delivery_id = d.id
      WHERE d.webhook_id = ${webhookId}`;
      return r && r.attempt_count > 0 ? r : undefined;
    },
    timeoutMs,
    `the attempt at ${url}`,
  );

  const before = healthy.received.length;
  await seedDeliveries(db.sql, [healthyWebhook], 1);
  await healthy.waitFor(before + 1, 5000);
  return row;
}

/** The row's one attempt failed with this status code (null: no HTTP answer) and error (a RegExp: one matching it). */
function assertFailedOnce(row: Row, statusCode: number | null, error: string | RegExp) {
  const seen = [row.status, row.attempt_count, row.last_status_code];
  if (typeof error === "string") {
    assert.deepEqual([...seen, row.last_error], ["failed", 1, statusCode, error]);
  } else {
    assert.deepEqual(seen, ["failed", 1, statusCode]);
    assert.match(row.last_error!, error);
  }
}

test(
  "a receiver that hangs past the timeout: one failed attempt, 'timeout after 1s'",
  { timeout: 30_000 },
  async () => {
    const row = await oneAttemptAt(`${faults.url}/hang`);
    assertFailedOnce(row, null, "timeout after 1s");
    assert.ok(row.duration_ms >= 900 && row.duration_ms < 5000, `took ${row.duration_ms} ms`);
  },
);

test("a connection reset: one failed attempt, 'connection failed'", { timeout: 30_000 }, async () => {
  const row = await oneAttemptAt(`${faults.url}/reset`);
  assertFailedOnce(row, null, /^connection failed/);
});

test("a refused port: one failed attempt, 'connection failed'", { timeout: 30_000 }, async () => {
  const row = await oneAttemptAt(`http://127.0.0.1:${await freePort()}/nobody`);
  assertFailedOnce(row, null, /^connection failed/);
});

test("a 500: one failed attempt with status 500", { timeout: 30_000 }, async () => {
  const row = await oneAttemptAt(`${faults.url}/status/500`);
  assertFailedOnce(row, 500, "HTTP 500");
  assert.equal(row.response_body, "fault receiver");
});

test("a 302 redirect is a failure and is never followed", { timeout: 30_000 }, async () => {
  const row = await oneAttemptAt(`${faults.url}/redirect`);
  assertFailedOnce(row, 302, "HTTP 302");
  assert.equal(faults.hits("/redirect"), 1);
  assert.equal(faults.hits("/redirect-target"), 0, "the redirect target got nothing");
});

test(
  "a body trickled slower than the timeout: one failed attempt, 'timeout after 1s'",
  { timeout: 30_000 },
  async () => {
    const row = await oneAttemptAt(`${faults.url}/trickle`);
    assertFailedOnce(row, null, "timeout after 1s");
  },
);

test(
  "a 50 MB response body is not buffered: a quick failed attempt, memory stays flat",
  { timeout: 30_000 },
  async () => {
    const { peak: peakBefore } = await service.memory();
    const row = await oneAttemptAt(`${faults.url}/huge/500`);
    const { peak: peakAfter } = await service.memory();
    assertFailedOnce(row, 500, "HTTP 500");
    assert.ok(row.response_body!.length <= 4096, "only a prefix is kept");
    const grew = peakAfter - peakBefore;
    assert.ok(grew < 20 * 1024 * 1024, `peak RSS grew by ${(grew / 1048576).toFixed(1)} MB`);
    assert.ok(faults.hugeBytesWritten() < HUGE_BODY_BYTES, "the service stopped reading");
  },
);

test("an unresolvable host: one failed attempt, 'connection failed'", { timeout: 30_000 }, async () => {
  const row = await oneAttemptAt("http://no-such-host.invalid/hook");
  assertFailedOnce(row, null, /^connection failed/);
});

test("after all of it the service is healthy and ready", { timeout: 30_000 }, async () => {
  const ready = await fetch(`${service.url}/readyz`);
  assert.equal(ready.status, 200);
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  assert.match(metrics, /dwctl_webhook_deliveries_total\{outcome="failure"\} 8/);
});
