// SIGTERM under load, against the real service process: it stops claiming,
// lets in-flight sends finish (or releases those still hanging when the grace
// period ends), records every outcome and exits 0. Nothing is left claimed
// without a recorded outcome.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { serviceHarness } from "./support/harness.ts";
import type { Handler } from "./support/receiver.ts";
import { seedDeliveries, seedWebhooks } from "./support/seed.ts";
import { type Service, until } from "./support/service.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";

const { db, receiver, start } = await serviceHarness();

type Row = { event_id: string; status: string; attempt_count: number; claimed: boolean };
const rowsOf = (webhookIds: string[]) =>
  db.sql<Row[]>`
    SELECT event_id, status, attempt_count, status IN ('pending', 'failed') AND next_attempt_at > now() AS claimed
    FROM webhook_deliveries WHERE webhook_id = ANY(${webhookIds}::uuid[])`;

/** A clean start for each test: no webhooks, nothing received, and `handler` answering. */
async function freshWorld(handler: Handler) {
  await db.sql`DELETE FROM user_webhooks`;
  receiver.received.length = 0;
  receiver.setHandler(handler);
}

/** Sends SIGTERM and waits for the process to exit: how it exited, and how long after the signal. */
async function terminate(service: Service) {
  const signalled = Date.now();
  service.kill("SIGTERM");
  const exit = await service.exited;
  return { exit, tookMs: Date.now() - signalled };
}

test(
  "SIGTERM under load: in-flight sends finish, outcomes recorded, exit 0, nothing left claimed",
  { timeout: 60_000 },
  async () => {
    const answered = new Set<string>();
    await freshWorld((req, res) => {
      setTimeout(() => res.end("ok", () => answered.add(req.headers["webhook-id"])), 150);
    });
    const webhooks = await seedWebhooks(db.sql, Array.from({ length: 4 }, (_, i) => `${receiver.url}/load/${i}`));
    const service = await start({
      env: {
        DATABASE_URL: db.url,
        STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
        STATEHOOK_MAX_CONCURRENT_SENDS: "50",
        STATEHOOK_CLAIM_BATCH_SIZE: "25",
        STATEHOOK_SHUTDOWN_GRACE_MS: "5000",
      },
    });
    await seedDeliveries(db.sql, webhooks, 2000);
    await receiver.waitFor(200, 20_000);

    const { exit, tookMs } = await terminate(service);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(tookMs < 5000, `exited ${tookMs} ms after SIGTERM`);
    assert.ok(service.logs.some((l) => l.msg === "stopped"));

    const rows = await rowsOf(webhooks);
    const delivered = rows.filter((r) => r.status === "delivered");
    assert.ok(rows.every((r) => !r.claimed), "nothing left claimed");
    assert.ok(rows.every((r) => r.status === "delivered" || (r.status === "pending" && r.attempt_count === 0)));
    assert.ok(delivered.length < 2000, "stopped before the backlog was done");
    // Every request that reached the receiver was answered and recorded.
    assert.equal(receiver.received.length, delivered.length);
    assert.deepEqual(new Set(delivered.map((r) => r.event_id)), answered);
  },
);

test("SIGTERM with sends hanging past the grace period: they are released, exit 0", { timeout: 60_000 }, async () => {
  const held: ServerResponse[] = [];
  await freshWorld((_req, res) => void held.push(res));
  const webhooks = await seedWebhooks(db.sql, [`${receiver.url}/hang`]);
  const service = await start({
    env: {
      DATABASE_URL: db.url,
      STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
      STATEHOOK_MAX_CONCURRENT_SENDS: "10",
      STATEHOOK_SHUTDOWN_GRACE_MS: "500",
    },
  });
  await seedDeliveries(db.sql, webhooks, 30);
  await receiver.waitFor(10, 10_000);
  await until(async () => (await rowsOf(webhooks)).filter((r) => r.claimed).length === 10, 5000, "ten claimed");

  const { exit, tookMs } = await terminate(service);
  for (const res of held) res.destroy();
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(tookMs >= 450 && tookMs < 3000, `exited ${tookMs} ms after SIGTERM`);

  const rows = await rowsOf(webhooks);
  assert.equal(rows.length, 30);
  assert.ok(
    rows.every((r) => r.status === "pending" && r.attempt_count === 0 && !r.claimed),
    "the ten hanging sends were released (due again at once), the rest never claimed",
  );
  assert.equal(receiver.received.length, 10, "nothing claimed after SIGTERM");
});

test(
  "SIGTERM while the database has stopped answering: the process still exits, with 1, once the overrun allowance is spent",
  { timeout: 60_000 },
  async () => {
    const held: ServerResponse[] = [];
    await freshWorld((_req, res) => void held.push(res));
    const target = new URL(db.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    try {
      const viaProxy = new URL(db.url);
      viaProxy.hostname = "127.0.0.1";
      viaProxy.port = String(proxy.port);
      const webhooks = await seedWebhooks(db.sql, [`${receiver.url}/frozen`]);
      const service = await start({
        env: {
          DATABASE_URL: viaProxy.href,
          STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
          STATEHOOK_SHUTDOWN_GRACE_MS: "500",
        },
      });
      await seedDeliveries(db.sql, webhooks, 3);
      await receiver.waitFor(3, 10_000);
      // The database goes silent, then the sends finish: their result write can never complete.
      proxy.freeze();
      for (const res of held) res.end("ok");

      const { exit, tookMs } = await terminate(service);
      assert.deepEqual(exit, { code: 1, signal: null });
      assert.ok(tookMs >= 500 + 10_000, `exited ${tookMs} ms after SIGTERM, before the allowance was spent`);
      assert.ok(service.logs.some((l) => l.msg === "shutdown overran: exiting with results unrecorded"));
    } finally {
      await proxy.close();
    }
  },
);
