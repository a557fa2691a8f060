// Throughput: how fast a contender (the service, or the plain loop with no
// actors) works through a staged backlog of deliveries, all endpoints healthy
// or a share of them answering 500, and the CPU it and Postgres spent per
// delivery doing so.
import type { Sql } from "../../src/db/client.ts";
import { seedDeliveries, seedWebhooks } from "../../test/support/seed.ts";
import { until } from "../../test/support/service.ts";
import { processCpu, threadCpu, treeCpu } from "../cpu.ts";
import { mb, round, sampled, settledRows } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { WEBHOOKS } from "../settings.ts";

/** What is timed: a process that claims and delivers, paused and resumed by signals. */
export type Contender = { pid: number; kill(signal: "SIGSTOP" | "SIGCONT"): void };

/**
 * `count` deliveries over `WEBHOOKS` endpoints, `failingShare` of them
 * answering 500. The backlog is staged and vacuumed with the contender paused
 * (SIGSTOP), so the clock and the CPU readings run from SIGCONT to the last
 * row recorded, not over the INSERT or the autovacuum it would set off.
 */
export async function throughput(
  sql: Sql,
  contender: Contender,
  postgresPid: number,
  receiver: ReceiverProcess,
  count: number,
  failingShare: number,
) {
  const failing = Math.round(WEBHOOKS * failingShare);
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => `${receiver.url}/${i < failing ? "fail" : "ok"}/${i}`);
  const webhooks = await seedWebhooks(sql, urls);
  await receiver.reset();
  contender.kill("SIGSTOP");
  let before: { contender: number; postgres: number; threads: Record<string, number> };
  try {
    for (let from = 0; from < count; from += 50_000) {
      await seedDeliveries(sql, webhooks, Math.min(50_000, count - from), from);
    }
    await sql`VACUUM ANALYZE webhook_deliveries, webhook_delivery_attempts`;
    before = {
      contender: await processCpu(contender.pid),
      postgres: await treeCpu(postgresPid),
      threads: await threadCpu(contender.pid),
    };
  } finally {
    contender.kill("SIGCONT");
  }
  const started = performance.now();
  const { peakRss } = await sampled(
    contender.pid,
    () => until(async () => (await receiver.stats()).received >= count, 600_000, `${count} deliveries received`),
  );
  await until(async () => (await settledRows(sql, webhooks)) >= count, 60_000, `${count} rows recorded`);
  const seconds = (performance.now() - started) / 1000;
  const after = {
    contender: await processCpu(contender.pid),
    postgres: await treeCpu(postgresPid),
    threads: await threadCpu(contender.pid),
  };
  const stats = await receiver.stats();
  const [statuses] = await sql<{ delivered: number; failed: number }[]>`
    SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, count(*) FILTER (WHERE status = 'failed')::int AS failed
    FROM webhook_deliveries WHERE webhook_id = ANY(${webhooks}::uuid[])`;
  const perDelivery = (cpuSeconds: number) => round((cpuSeconds * 1e6) / count);
  return {
    deliveries: count,
    webhooks: WEBHOOKS,
    failing_webhooks: failing,
    seconds: round(seconds, 2),
    per_second: round(count / seconds),
    process_cpu_us_per_delivery: perDelivery(after.contender - before.contender),
    postgres_cpu_us_per_delivery: perDelivery(after.postgres - before.postgres),
    process_cpu_us_by_thread: byThread(before.threads, after.threads, after.contender - before.contender, perDelivery),
    delivered: statuses.delivered,
    failed: statuses.failed,
    duplicates_at_receiver: stats.duplicates,
    peak_rss_mb: mb(peakRss),
  };
}

/**
 * The process's CPU per delivery by thread name, largest first; "exited
 * threads" is what the process's total holds beyond its live threads'.
 */
function byThread(
  before: Record<string, number>,
  after: Record<string, number>,
  total: number,
  perDelivery: (cpuSeconds: number) => number,
): Record<string, number> {
  const spent = Object.entries(after).map(([name, s]) => [name, s - (before[name] ?? 0)] as const);
  const exited = total - spent.reduce((sum, [, s]) => sum + s, 0);
  return Object.fromEntries(
    [...spent, ["exited threads", exited] as const]
      .sort((a, b) => b[1] - a[1])
      .map(([name, s]) => [name, perDelivery(s)] as const)
      .filter(([, us]) => us > 0),
  );
}

export type Throughput = Awaited<ReturnType<typeof throughput>>;
