// Backlog scaling: claim latency and throughput with 10 k and then 1 M
// delivered rows of history in the table.
import type { Sql } from "../../src/db/client.ts";
import { seedDeliveries, seedWebhooks } from "../../test/support/seed.ts";
import { type Service, until } from "../../test/support/service.ts";
import { round, settledRows } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { CLAIM_BATCH, THROUGHPUT_N, WEBHOOKS } from "../settings.ts";
import { claimLatency } from "./claim-latency.ts";

/** Adds delivered rows of a "history" webhook until the table holds `target` of them; then VACUUM ANALYZE. */
export async function growHistory(sql: Sql, historyWebhook: string, target: number) {
  const [{ n }] = await sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = ${historyWebhook}`;
  for (let have = n; have < target; have += 200_000) {
    await sql`
      INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, status, attempt_count, last_status_code, created_at, next_attempt_at)
      SELECT ${historyWebhook}, gen_random_uuid(), 'bench.history',
        jsonb_build_object('type', 'bench.history', 'timestamp', now(), 'data', jsonb_build_object('n', i)),
        'delivered', 1, 200, now() - interval '1 day', now() - interval '1 day'
      FROM generate_series(1, ${Math.min(200_000, target - have)}) AS i`;
  }
  await sql`VACUUM ANALYZE webhook_deliveries`;
}

export async function backlog(
  sql: Sql,
  service: Service,
  receiver: ReceiverProcess,
  historyWebhook: string,
  history: number,
) {
  await growHistory(sql, historyWebhook, history);
  // A due backlog to claim from, with the service paused so it stays due.
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => `${receiver.url}/ok/backlog/${i}`);
  const webhooks = await seedWebhooks(sql, urls);
  await receiver.reset();
  service.kill("SIGSTOP");
  let claim;
  try {
    await seedDeliveries(sql, webhooks, THROUGHPUT_N);
    claim = await claimLatency(sql, Number(CLAIM_BATCH));
  } finally {
    service.kill("SIGCONT");
  }
  const started = performance.now();
  await until(async () => (await receiver.stats()).received >= THROUGHPUT_N, 600_000, "backlog received");
  await until(async () => (await settledRows(sql, webhooks)) >= THROUGHPUT_N, 60_000, "backlog recorded");
  const seconds = (performance.now() - started) / 1000;
  const [size] = await sql<{ table: string; index: string }[]>`
    SELECT pg_size_pretty(pg_total_relation_size('webhook_deliveries')) AS table,
           pg_size_pretty(pg_relation_size('idx_webhook_deliveries_pending')) AS index`;
  return {
    historical_delivered_rows: history,
    claim_p50_ms: claim.p50_ms,
    claim_p99_ms: claim.p99_ms,
    claim_rows: claim.limit,
    deliveries: THROUGHPUT_N,
    per_second: round(THROUGHPUT_N / seconds),
    table_size: size.table,
    pending_index_size: size.index,
  };
}
