// Postgres restarts under the running service: health keeps answering,
// readiness says not-ready while the database is away, the service reconnects
// and re-subscribes to NOTIFY, and every delivery — those in flight when the
// database went, and those inserted after it came back — is delivered once.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../src/db/client.ts";
import { startReceiver } from "./support/receiver.ts";
import { startRestartablePostgres } from "./support/restartable-postgres.ts";
import { seedDeliveries, seedWebhooks, statusCounts } from "./support/seed.ts";
import { type Service, startService, until } from "./support/service.ts";

let service: Service | undefined;

// Set up at load time: bun's node:test ignores a hook's timeout option.
const pg = await startRestartablePostgres();
const sql = connect(pg.url, { max: 2 });
// A little slow, so that sends are in flight when the database goes.
const receiver = await startReceiver((_req, res) => void setTimeout(() => res.end("ok"), 20));

after(async () => {
  await service?.stop(5000);
  await receiver.close();
  await sql.end({ timeout: 1 });
  await pg.close();
});

const readiness = async (url: string) => {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: await response.json() };
};

test(
  "Postgres restart mid-run: not ready while away, reconnects, re-listens, loses nothing",
  { timeout: 90_000 },
  async () => {
    service = await startService({
      env: {
        DATABASE_URL: pg.url,
        STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
        STATEHOOK_MAX_CONCURRENT_SENDS: "20",
        STATEHOOK_CLAIM_BATCH_SIZE: "10",
        // Only NOTIFY (or the wake on re-subscribe) can bring rows in quickly.
        STATEHOOK_POLL_INTERVAL_MS: "60000",
      },
    });
    const s = service;
    const webhooks = await seedWebhooks(sql, Array.from({ length: 5 }, (_, i) => `${receiver.url}/hook/${i}`));
    await seedDeliveries(sql, webhooks, 500);
    await receiver.waitFor(100, 20_000);

    await pg.stop();
    const during = await readiness(s.url);
    assert.equal(during.status, 503);
    assert.equal(during.body.database, false);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200, "health answers while the database is away");
    const sentWhileDown = receiver.received.length;

    await pg.start();
    await until(async () => (await readiness(s.url)).status === 200, 20_000, "ready again");
    // New rows after the restart: only a re-subscribed LISTEN hears about them.
    await seedDeliveries(sql, webhooks, 500, 500);
    await until(async () => (await statusCounts(sql)).delivered === 1000, 30_000, "all 1,000 delivered");

    const ids = receiver.received.map((r) => r.headers["webhook-id"]);
    assert.equal(new Set(ids).size, 1000, "every delivery reached the receiver");
    assert.equal(ids.length, 1000, "none twice");
    assert.ok(sentWhileDown < 500, "the restart happened mid-run");
    const [attempts] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_delivery_attempts`;
    assert.equal(attempts.n, 1000, "every attempt recorded once");
    assert.equal(s.logs.filter((l) => l.level === "error" && /crash|uncaught/i.test(String(l.msg))).length, 0);
    const exit = await Promise.race([s.exited, new Promise((r) => setTimeout(r, 0, "running"))]);
    assert.equal(exit, "running", "the service is still up");

    // A clean exit after the restart too. (It takes about 5 s: postgres.js's
    // end() waits out its timeout for a connection from before the restart.)
    s.kill("SIGTERM");
    assert.deepEqual(await s.exited, { code: 0, signal: null });
  },
);
