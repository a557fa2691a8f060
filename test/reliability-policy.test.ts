// The per-endpoint policy in the real service against real receivers:
// Retry-After pauses the endpoint, 410 Gone exhausts and disables, jitter
// spreads retry times, and max_in_flight caps the requests open to one
// endpoint while another endpoint keeps its slots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serviceHarness } from "./support/harness.ts";
import { seedDeliveries, seedWebhooks } from "./support/seed.ts";
import { until } from "./support/service.ts";

const RETRY_AFTER_SECS = 2;
const SLOW_CAP = 3;
let slowOpen = 0;
let slowPeak = 0;
const slowReleases: (() => void)[] = [];
let firstThrottle = true;

const { db, receiver, start } = await serviceHarness({
  stopMs: 5000,
  handler: (req, res) => {
    if (req.path === "/throttle") {
      // The first request is told to come back in RETRY_AFTER_SECS; the rest succeed.
      if (firstThrottle) {
        firstThrottle = false;
        res.statusCode = 429;
        res.setHeader("retry-after", String(RETRY_AFTER_SECS));
      }
      res.end();
    } else if (req.path === "/gone") {
      res.statusCode = 410;
      res.end();
    } else if (req.path === "/flaky") {
      res.statusCode = 500;
      res.end();
    } else if (req.path === "/slow") {
      slowOpen++;
      slowPeak = Math.max(slowPeak, slowOpen);
      slowReleases.push(() => (slowOpen--, res.end()));
    } else {
      res.end();
    }
  },
});

const service = await start({
  env: {
    DATABASE_URL: db.url,
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_MAX_CONCURRENT_SENDS: "20",
    STATEHOOK_POLL_INTERVAL_MS: "50",
    STATEHOOK_RETRY_SCHEDULE: "0,100,100",
    STATEHOOK_RETRY_JITTER: "0.5",
    STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK: "20",
  },
});
const hits = (path: string) => receiver.received.filter((r) => r.path === path);
const rowsOf = (id: string) =>
  db.sql<{ status: string; last_status_code: number | null; wait: number }[]>`
    SELECT d.status, d.last_status_code,
      -- From the latest attempt, recorded in the statement that set next_attempt_at
      -- (same now()), so the wait does not shrink while the test runs.
      extract(epoch FROM d.next_attempt_at - coalesce(
        (SELECT max(a.created_at) FROM webhook_delivery_attempts a WHERE a.delivery_id = d.id), now()))::float8 AS wait
    FROM webhook_deliveries d WHERE d.webhook_id = ${id}`;

test(
  "Retry-After on a 429 pauses the endpoint: nothing is sent to it before the time it asked",
  { timeout: 30_000 },
  async () => {
    const [id] = await seedWebhooks(db.sql, [`${receiver.url}/throttle`]);
    await seedDeliveries(db.sql, [id], 1);
    await until(() => hits("/throttle").length >= 1, 10_000, "the first attempt");
    await seedDeliveries(db.sql, [id], 5, 1);
    await until(
      async () => (await rowsOf(id)).filter((r) => r.status === "delivered").length === 5,
      20_000,
      "the five others",
    );
    const [first, ...rest] = hits("/throttle").map((r) => r.at);
    const earliest = Math.min(...rest);
    console.log(`429 with Retry-After ${RETRY_AFTER_SECS}: next request to the endpoint ${earliest - first} ms later`);
    assert.ok(earliest - first >= RETRY_AFTER_SECS * 1000 - 50, `a request ${earliest - first} ms after the 429`);
    // The answered row: no earlier than the pause, and no earlier than its schedule (100 s ± 50%).
    const answered = (await rowsOf(id)).find((r) => r.status === "failed")!;
    assert.equal(answered.last_status_code, 429);
    assert.ok(answered.wait >= 50 - 25, `retried in ${answered.wait} s`);
    const [state] = await db.sql<{ paused: boolean }[]>`
    SELECT paused_until IS NOT NULL AS paused FROM webhook_endpoint_state WHERE webhook_id = ${id}`;
    assert.ok(state.paused, "the pause is shared through the database");
  },
);

test("410 Gone exhausts the delivery at once and disables the webhook", { timeout: 30_000 }, async () => {
  const [id] = await seedWebhooks(db.sql, [`${receiver.url}/gone`]);
  await seedDeliveries(db.sql, [id], 1);
  await until(async () => (await rowsOf(id))[0].status === "exhausted", 10_000, "the row to be exhausted");
  assert.equal(hits("/gone").length, 1, "one attempt: not retried");
  const reply = await fetch(
    `${service.url}/admin/api/v1/users/${
      (await db.sql`
    SELECT user_id FROM user_webhooks WHERE id = ${id}`)[0].user_id
    }/webhooks/${id}`,
    {
      headers: { authorization: "Bearer reliability-test-token-0123456789" },
    },
  );
  const webhook = await reply.json();
  assert.deepEqual([webhook.enabled, webhook.breaker_state, webhook.disabled_at !== null], [false, "open", true]);
});

test("jitter: retry times spread within ±50% of the schedule's 100 s", { timeout: 30_000 }, async () => {
  const [id] = await seedWebhooks(db.sql, [`${receiver.url}/flaky`]);
  await seedDeliveries(db.sql, [id], 20);
  await until(async () => (await rowsOf(id)).every((r) => r.status === "failed"), 10_000, "twenty failures");
  const waits = (await rowsOf(id)).map((r) => r.wait);
  console.log(`retry in ${Math.min(...waits).toFixed(0)}–${Math.max(...waits).toFixed(0)} s (schedule 100 s, j 0.5)`);
  assert.ok(waits.every((w) => w >= 50 - 2 && w <= 150 + 1), `waits ${waits.map(Math.round)}`);
  assert.ok(new Set(waits.map(Math.round)).size > 3, "spread, not one time for all");
});

test(
  "max_in_flight caps the requests open to one endpoint; another endpoint still gets sent to",
  { timeout: 30_000 },
  async () => {
    const [slow, fast] = await seedWebhooks(db.sql, [`${receiver.url}/slow`, `${receiver.url}/fast`]);
    await db.sql`UPDATE user_webhooks SET max_in_flight = ${SLOW_CAP} WHERE id = ${slow}`;
    await seedDeliveries(db.sql, [slow], 12);
    await until(() => slowOpen >= SLOW_CAP, 10_000, "the slow endpoint to fill its cap");
    await seedDeliveries(db.sql, [fast], 10);
    await until(() => hits("/fast").length >= 10, 10_000, "the other endpoint's rows, while the slow one hangs");
    assert.equal(slowPeak, SLOW_CAP, "never more than max_in_flight open");
    while (hits("/slow").length < 12 || slowReleases.length > 0) {
      slowReleases.shift()?.();
      await until(() => slowReleases.length > 0 || hits("/slow").length >= 12, 10_000, "the next slow request");
      if (hits("/slow").length >= 12) slowReleases.splice(0).forEach((release) => release());
    }
    await until(async () => (await rowsOf(slow)).every((r) => r.status === "delivered"), 10_000, "all slow rows");
    console.log(`max_in_flight ${SLOW_CAP}: peak ${slowPeak} open requests to the slow endpoint`);
    assert.equal(slowPeak, SLOW_CAP);
  },
);
