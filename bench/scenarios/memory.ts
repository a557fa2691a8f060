// Memory: the service's resident set with thousands of delivery actors in
// flight (the receiver holds every request), over its idle set.
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "../../src/db/client.ts";
import { seedDeliveries, seedWebhooks } from "../../test/support/seed.ts";
import { runtime, startService, until } from "../../test/support/service.ts";
import { mb, round, settledRows } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { serviceEnv, WEBHOOKS } from "../settings.ts";

/** Resident set with `held` delivery actors in flight (the receiver holds every request) over the idle set. */
export async function memory(databaseUrl: string, sql: Sql, receiver: ReceiverProcess, held: number) {
  const service = await startService({
    env: serviceEnv(databaseUrl, {
      STATEHOOK_MAX_CONCURRENT_SENDS: String(held),
      // Every delivery with its request open, as far as the runtime's fetch goes.
      STATEHOOK_MAX_CONNECTIONS_PER_HOST: String(held),
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
    // Bun's fetch opens at most 256 connections at once and queues the rest.
    await until(
      async () => (await receiver.stats()).held >= Math.min(held, runtime === "bun" ? 256 : held),
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
