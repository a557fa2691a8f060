// Latency: publish→receipt under open-loop publishing through the API at a
// fixed rate, and the publish request's own round trip.
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "../../src/db/client.ts";
import { seedWebhooks } from "../../test/support/seed.ts";
import { type Service, until } from "../../test/support/service.ts";
import { round } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { TOKEN } from "../settings.ts";

/** Open-loop publishing through POST /admin/api/v1/events at `rate` per second for `seconds`. */
export async function latency(sql: Sql, service: Service, receiver: ReceiverProcess, rate: number, seconds: number) {
  const [webhookId] = await seedWebhooks(sql, [`${receiver.url}/ok/latency`]);
  const [{ user_id: userId }] = await sql<
    { user_id: string }[]
  >`SELECT user_id FROM user_webhooks WHERE id = ${webhookId}`;
  await receiver.reset(true);
  const total = rate * seconds;
  let sent = 0;
  let accepted = 0;
  let rejected = 0;
  const rejectedBy: Record<string, number> = {};
  const reject = (reason: string) => {
    rejected++;
    rejectedBy[reason] = (rejectedBy[reason] ?? 0) + 1;
  };
  const apiTimes: number[] = [];
  const inflight = new Set<Promise<void>>();
  const publish = (n: number) => {
    const at = Date.now();
    const p = fetch(`${service.url}/admin/api/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ event_type: "bench.latency", user_id: userId, data: { n, sent: at } }),
    }).then(async (r) => {
      await r.arrayBuffer();
      apiTimes.push(Date.now() - at);
      if (r.status === 202) accepted++;
      else reject(`HTTP ${r.status}`);
    }, (error) => reject(`fetch: ${error instanceof Error ? error.message : String(error)}`));
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
  };
  // The schedule is fixed in advance: publishing does not wait for answers.
  const start = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) publish(sent++);
    await sleep(1);
  }
  const publishSeconds = (performance.now() - start) / 1000;
  await Promise.all(inflight);
  await until(async () => (await receiver.stats()).received >= accepted, 120_000, "every published event received")
    .catch(() => {});
  const stats = await receiver.stats();
  apiTimes.sort((a, b) => a - b);
  const pct = (p: number) =>
    apiTimes[Math.min(apiTimes.length - 1, Math.ceil((p / 100) * apiTimes.length) - 1)] ?? null;
  return {
    target_per_second: rate,
    achieved_per_second: round(total / publishSeconds),
    published: total,
    accepted,
    rejected,
    ...(rejected > 0 ? { rejected_by: rejectedBy } : {}),
    received: stats.received,
    p50_ms: stats.latency.p50,
    p95_ms: stats.latency.p95,
    p99_ms: stats.latency.p99,
    max_ms: stats.latency.max,
    api_p50_ms: pct(50),
    api_p99_ms: pct(99),
  };
}
