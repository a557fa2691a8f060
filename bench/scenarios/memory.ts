// Memory: the service's resident set with thousands of delivery actors in
// flight (the receiver holds every request), over its idle set. Run twice:
// with 256 requests open to the receiver and the rest waiting their turn at
// the host gate (Bun's fetch opens no more than 256 at once anyway, so this
// is the row that compares the runtimes), and with the per-host cap lifted,
// where Deno opens a connection per delivery and Bun still 256.
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "../../src/db/client.ts";
import { seedDeliveries, seedWebhooks } from "../../test/support/seed.ts";
import { runtime, startService, until } from "../../test/support/service.ts";
import { mb, round, settledRows } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { serviceEnv, WEBHOOKS } from "../settings.ts";

/** Bun's fetch opens at most this many connections at once and queues the rest. */
const BUN_FETCH_CONNECTIONS = 256;

/**
 * Resident set with `held` delivery actors in flight (the receiver holds
 * every request that reaches it) over the idle set; at most `open` requests
 * to the receiver at once (STATEHOOK_MAX_CONNECTIONS_PER_HOST).
 */
export async function memory(databaseUrl: string, sql: Sql, receiver: ReceiverProcess, held: number, open: number) {
  const service = await startService({
    env: serviceEnv(databaseUrl, {
      STATEHOOK_MAX_CONCURRENT_SENDS: String(held),
      STATEHOOK_MAX_CONNECTIONS_PER_HOST: String(open),
      STATEHOOK_CLAIM_BATCH_SIZE: "1000",
      STATEHOOK_TIMEOUT_SECS: "300",
    }),
  });
  try {
    const urls = Array.from({ length: WEBHOOKS }, (_, i) => `${receiver.url}/hold/${i}`);
    const webhooks = await seedWebhooks(sql, urls);
    await receiver.reset();
    await sleep(2000);
    const idle = (await service.memory()).rss;
    await seedDeliveries(sql, webhooks, held);
    await until(
      async () => {
        const [r] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM webhook_deliveries
        WHERE webhook_id = ANY(${webhooks}::uuid[]) AND status = 'pending' AND next_attempt_at > now()`;
        return r.n === held;
      },
      60_000,
      "all claimed",
    );
    await until(
      async () => (await receiver.stats()).held >= Math.min(open, runtime === "bun" ? BUN_FETCH_CONNECTIONS : held),
      60_000,
      "requests held",
    );
    await sleep(1000);
    const loaded = (await service.memory()).rss;
    const stats = await receiver.stats();
    await receiver.release();
    await until(async () => (await settledRows(sql, webhooks)) >= held, 120_000, "held deliveries recorded");
    return {
      in_flight: held,
      connections_allowed: open,
      at_receiver: stats.held,
      idle_rss_mb: mb(idle),
      loaded_rss_mb: mb(loaded),
      bytes_per_in_flight_delivery: round((loaded - idle) / held),
      peak_rss_mb: mb((await service.memory()).peak),
    };
  } finally {
    await service.stop();
  }
}
