// Throughput: how fast the service works through a staged backlog of
// deliveries, all endpoints healthy or a share of them answering 500.
import type { Sql } from "../../src/db/client.ts";
import { seedDeliveries, seedWebhooks } from "../../test/support/seed.ts";
import { type Service, until } from "../../test/support/service.ts";
import { mb, round, sampled, settledRows } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { WEBHOOKS } from "../settings.ts";

/**
 * `count` deliveries over `WEBHOOKS` endpoints, `failingShare` of them
 * answering 500. The backlog is staged with the service paused (SIGSTOP), so
 * the clock runs from SIGCONT to the last row recorded, not over the INSERT.
 */
export async function throughput(
  sql: Sql,
  service: Service,
  receiver: ReceiverProcess,
  count: number,
  failingShare: number,
) {
  const failing = Math.round(WEBHOOKS * failingShare);
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => `${receiver.url}/${i < failing ? "fail" : "ok"}/${i}`);
  const webhooks = await seedWebhooks(sql, urls);
  await receiver.reset();
  service.kill("SIGSTOP");
  try {
    for (let from = 0; from < count; from += 50_000) {
      await seedDeliveries(sql, webhooks, Math.min(50_000, count - from), from);
    }
  } finally {
    service.kill("SIGCONT");
  }
  const started = performance.now();
  const { peakRss } = await sampled(
    service,
    () => until(async () => (await receiver.stats()).received >= count, 600_000, `${count} deliveries received`),
  );
  await until(async () => (await settledRows(sql, webhooks)) >= count, 60_000, `${count} rows recorded`);
  const seconds = (performance.now() - started) / 1000;
  const stats = await receiver.stats();
  const [statuses] = await sql<{ delivered: number; failed: number }[]>`
    SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, count(*) FILTER (WHERE status = 'failed')::int AS failed
    FROM webhook_deliveries WHERE webhook_id = ANY(${webhooks}::uuid[])`;
  return {
    deliveries: count,
    webhooks: WEBHOOKS,
    failing_webhooks: failing,
    seconds: round(seconds, 2),
    per_second: round(count / seconds),
    delivered: statuses.delivered,
    failed: statuses.failed,
    duplicates_at_receiver: stats.duplicates,
    peak_rss_mb: mb(peakRss),
  };
}
