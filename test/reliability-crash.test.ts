// SIGKILL mid-flight: the service process dies with ~1,000 deliveries claimed
// and in flight to a slow receiver. A new process picks them up once the
// crash-safety window runs out; every delivery ends delivered, and the only
// re-sends are of rows that were in flight at the kill (same webhook-id, so
// the receiver can dedupe them).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { serviceHarness } from "./support/harness.ts";
import { seedDeliveries, seedWebhooks, statusCounts } from "./support/seed.ts";
import { until } from "./support/service.ts";

const TOTAL = 1000;
const ANSWERED_BEFORE_KILL = 200;

const { db, receiver, start } = await serviceHarness();

const env = () => ({
  DATABASE_URL: db.url,
  STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
  STATEHOOK_MAX_CONCURRENT_SENDS: "1000",
  // ~100 open to each of the ten endpoints, past the default per-endpoint cap of 20.
  STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK: "1000",
  STATEHOOK_CLAIM_BATCH_SIZE: "500",
  STATEHOOK_CLAIM_TIMEOUT_SECS: "4",
  STATEHOOK_TIMEOUT_SECS: "30",
});

test("SIGKILL with ~1,000 deliveries in flight loses none; re-sends are only of what was in flight", {
  timeout: 90_000,
}, async () => {
  // The first requests are answered, the rest are held open: a slow receiver.
  const held: ServerResponse[] = [];
  receiver.setHandler((_req, res) => {
    if (receiver.received.length <= ANSWERED_BEFORE_KILL) res.end("ok");
    else held.push(res);
  });
  const webhooks = await seedWebhooks(db.sql, Array.from({ length: 10 }, (_, i) => `${receiver.url}/hook/${i}`));
  const first = await start({ env: env() });
  await seedDeliveries(db.sql, webhooks, TOTAL);

  // Kill once some rows are recorded delivered and every other row is claimed:
  // held open at the receiver (at most 64 at a time: the sender's cap per
  // host) or waiting in the sender for a connection to it.
  await until(
    async () => {
      const [r] = await db.sql<{ delivered: number; claimed: number }[]>`
      SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
             count(*) FILTER (WHERE status = 'pending' AND next_attempt_at > now())::int AS claimed
      FROM webhook_deliveries`;
      return r.delivered > 0 && r.delivered + r.claimed === TOTAL && held.length >= 50;
    },
    20_000,
    "deliveries in flight",
  );
  first.kill("SIGKILL");
  assert.equal((await first.exited).signal, "SIGKILL");
  const killedAt = Date.now();

  const deliveredAtKill = new Set(
    (await db.sql<{ event_id: string }[]>`SELECT event_id FROM webhook_deliveries WHERE status = 'delivered'`).map((
      r,
    ) => r.event_id),
  );
  const inFlightAtKill = TOTAL - deliveredAtKill.size;
  assert.ok(inFlightAtKill >= 700, `${inFlightAtKill} in flight at the kill`);
  for (const res of held) res.destroy();
  receiver.setHandler((_req, res) => void res.end("ok"));

  await start({ env: env() });
  await until(async () => (await statusCounts(db.sql)).delivered === TOTAL, 30_000, "every delivery delivered");

  const rows = await db.sql<{ attempt_count: number }[]>`SELECT attempt_count FROM webhook_deliveries`;
  assert.ok(rows.every((r) => r.attempt_count === 1), "each row records one attempt");
  const seen = new Map<string, number>();
  for (const r of receiver.received) seen.set(r.headers["webhook-id"], (seen.get(r.headers["webhook-id"]) ?? 0) + 1);
  assert.equal(seen.size, TOTAL, "every webhook-id reached the receiver");
  const resent = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  assert.ok(resent.every((id) => !deliveredAtKill.has(id)), "nothing recorded as delivered was sent again");
  assert.ok(resent.length <= inFlightAtKill);
  const afterKill = receiver.received.filter((r) => r.at >= killedAt).map((r) => r.headers["webhook-id"]);
  assert.ok(afterKill.every((id) => !deliveredAtKill.has(id)), "the new process sent only what was not recorded");
  assert.ok([...seen.values()].every((n) => n <= 2), "at most one re-send per delivery");
});
