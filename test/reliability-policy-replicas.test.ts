// The per-endpoint policy held by three service processes on one database,
// against real receivers: an endpoint's rate limit holds for the three
// together, and a tripped breaker with a cool-down lets exactly one probe
// through per cool-down (doubling), loses nothing, and closes when a probe
// succeeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serviceHarness } from "./support/harness.ts";
import { seedDeliveries, seedWebhooks } from "./support/seed.ts";
import { until } from "./support/service.ts";

const RATE = 20;
const RATE_ROWS = 120;
const COOL_DOWN_SECS = 1;
const COOL_DOWN_MAX_SECS = 4;
const OUTAGE_ROWS = 30;

let outage = true;
const { db, receiver, start } = await serviceHarness({
  dbMax: 4,
  stopMs: 5000,
  handler: (req, res) => {
    res.statusCode = req.path.startsWith("/outage") && outage ? 503 : 200;
    res.end();
  },
});

const env = {
  DATABASE_URL: db.url,
  STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
  STATEHOOK_MAX_CONCURRENT_SENDS: "64",
  STATEHOOK_CLAIM_BATCH_SIZE: "32",
  STATEHOOK_POLL_INTERVAL_MS: "50",
  STATEHOOK_RETRY_SCHEDULE: "0,0,0,0,0,0,0,0,0,0",
  STATEHOOK_RETRY_JITTER: "0",
  STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "3",
  STATEHOOK_BREAKER_COOLDOWN_SECS: String(COOL_DOWN_SECS),
  STATEHOOK_BREAKER_COOLDOWN_MAX_SECS: String(COOL_DOWN_MAX_SECS),
};
const services = await Promise.all([0, 1, 2].map(() => start({ env })));

test("three replicas: an endpoint's rate limit holds for all of them together", { timeout: 60_000 }, async () => {
  const [id] = await seedWebhooks(db.sql, [`${receiver.url}/rate`]);
  await db.sql`UPDATE user_webhooks SET rate_limit = ${RATE} WHERE id = ${id}`;
  await seedDeliveries(db.sql, [id], RATE_ROWS);
  await until(
    () => receiver.received.filter((r) => r.path === "/rate").length >= RATE_ROWS,
    45_000,
    "every rate-limited row to arrive",
  );
  const times = receiver.received.filter((r) => r.path === "/rate").map((r) => r.at).sort((a, b) => a - b);
  // The most that arrived within any one second.
  let busiest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  const spanSecs = (times.at(-1)! - times[0]) / 1000;
  console.log(
    `rate limit ${RATE}/s under three replicas: ${RATE_ROWS} sends over ${spanSecs.toFixed(2)} s ` +
      `(${(RATE_ROWS / spanSecs).toFixed(1)}/s), at most ${busiest} in any one second`,
  );
  // The bucket allows RATE a second plus a full second's burst: 2 × RATE
  // claimed in any second. Arrivals trail their claims by each send's
  // latency, which a loaded machine stretches unevenly, so a second of
  // arrivals may hold a few more; three replicas each at RATE would show ~3×.
  assert.ok(busiest <= 2.5 * RATE, `at most a second's allowance of burst: ${busiest} in one second`);
  // A full bucket, then RATE a second: the rest take at least (N − RATE) / RATE
  // seconds of claims (5 s here; three replicas each at RATE would take under
  // 2). Measured at the receiver, the first arrival may trail its claim more
  // than the last does, hence a tenth off.
  assert.ok(spanSecs >= 0.9 * (RATE_ROWS - RATE) / RATE, `${RATE_ROWS} sends in ${spanSecs} s`);
  const ids = receiver.received.filter((r) => r.path === "/rate").map((r) => r.headers["webhook-id"]);
  assert.equal(new Set(ids).size, RATE_ROWS, "each exactly once");
});

test(
  "three replicas: a tripped breaker lets one probe through per cool-down, doubling, and nothing is exhausted",
  { timeout: 90_000 },
  async () => {
    const [id] = await seedWebhooks(db.sql, [`${receiver.url}/outage`]);
    await seedDeliveries(db.sql, [id], OUTAGE_ROWS);
    const state = async () =>
      (await db.sql<{ breaker: string }[]>`SELECT breaker FROM webhook_endpoint_state WHERE webhook_id = ${id}`)[0]
        ?.breaker;
    await until(async () => (await state()) === "open", 30_000, "the breaker to trip");
    const outageHits = () => receiver.received.filter((r) => r.path === "/outage");
    const beforeProbes = outageHits().length;
    // Sends in flight when it tripped arrived before the trip was written: from here on, only probes.
    await until(() => outageHits().length >= beforeProbes + 3, 30_000, "three probes");
    const probes = outageHits().slice(beforeProbes).map((r) => r.at);
    const gaps = probes.slice(1).map((t, i) => t - probes[i]);
    console.log(`probes ${probes.length}, gaps between them ${gaps.map((g) => `${g} ms`).join(", ")}`);
    // Each probe waits out a cool-down that doubles from 1 s up to the cap: 1 s, 2 s, then 4 s.
    const coolDowns = [COOL_DOWN_SECS * 2, COOL_DOWN_SECS * 4].map((s) => Math.min(s, COOL_DOWN_MAX_SECS) * 1000);
    gaps.slice(0, 2).forEach((gap, i) => assert.ok(gap >= coolDowns[i] - 50, `probe gap ${gap} ms ≥ ${coolDowns[i]}`));
    const [exhausted] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = ${id} AND status = 'exhausted'`;
    assert.equal(exhausted.n, 0, "nothing is exhausted while the breaker is open");
    const [w] = await db.sql<{ breaker_state: string }[]>`
      SELECT CASE WHEN NOT enabled AND disabled_at IS NOT NULL THEN 'open' ELSE 'closed' END AS breaker_state
      FROM user_webhooks WHERE id = ${id}`;
    assert.equal(w.breaker_state, "open", "disabled for dwctl too while open");

    outage = false;
    await until(
      async () => {
        const [r] = await db.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = ${id} AND status = 'delivered'`;
        return r.n === OUTAGE_ROWS;
      },
      30_000,
      "the backlog to drain after a probe succeeds",
    );
    const [after] = await db.sql<{ enabled: boolean; consecutive_failures: number; breaker: string }[]>`
      SELECT w.enabled, w.consecutive_failures, s.breaker FROM user_webhooks w
      JOIN webhook_endpoint_state s ON s.webhook_id = w.id WHERE w.id = ${id}`;
    assert.deepEqual(after, { enabled: true, consecutive_failures: 0, breaker: "closed" });
    const ids = outageHits().filter((r) => r.at > probes.at(-1)!).map((r) => r.headers["webhook-id"]);
    assert.equal(new Set(ids).size, ids.length, "after recovery each row once");
    const logs = services.flatMap((s) => s.logs).filter((l) => l.level === "error");
    assert.deepEqual(logs, [], "no errors logged");
  },
);
