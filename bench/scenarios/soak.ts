// Soak: a long run with a share of endpoints failing, its resident set
// sampled every second, its peak (VmHWM, reset at the start, so spikes
// between samples count and earlier scenarios do not), and no delivery left
// in flight once it drains.
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "../../src/db/client.ts";
import { seedDeliveries, seedWebhooks } from "../../test/support/seed.ts";
import { type Service, until } from "../../test/support/service.ts";
import { mb, resetPeak, round, settledRows } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { WEBHOOKS } from "../settings.ts";

export async function soak(sql: Sql, service: Service, receiver: ReceiverProcess, total: number) {
  const urls = Array.from(
    { length: WEBHOOKS },
    (_, i) => `${receiver.url}/${i < WEBHOOKS / 10 ? "fail" : "ok"}/soak/${i}`,
  );
  const webhooks = await seedWebhooks(sql, urls);
  await receiver.reset();
  // The soak's own peak: the service has run other scenarios before it.
  await resetPeak(service.pid);
  const samples: { t: number; rss_mb: number; received: number }[] = [];
  const started = performance.now();
  for (let from = 0; from < total; from += 50_000) {
    await seedDeliveries(sql, webhooks, Math.min(50_000, total - from), from);
  }
  const deadline = 600_000;
  let finished = true;
  for (;;) {
    const stats = await receiver.stats();
    samples.push({
      t: round((performance.now() - started) / 1000, 1),
      rss_mb: mb((await service.memory()).rss),
      received: stats.received,
    });
    if (stats.received >= total) break;
    if (performance.now() - started > deadline) {
      finished = false;
      break;
    }
    await sleep(1000);
  }
  if (finished) await until(async () => (await settledRows(sql, webhooks)) >= total, 60_000, "soak recorded");
  const seconds = (performance.now() - started) / 1000;
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  const inFlight = Number(/^dwctl_webhook_deliveries_in_flight (\d+)/m.exec(metrics)?.[1] ?? NaN);
  const warm = samples[Math.min(samples.length - 1, Math.max(2, Math.floor(samples.length / 5)))];
  const last = samples.at(-1)!;
  return {
    deliveries: total,
    failing_share: 0.1,
    finished,
    seconds: round(seconds, 1),
    per_second: round(samples.at(-1)!.received / seconds),
    rss_after_warmup_mb: warm.rss_mb,
    rss_at_end_mb: last.rss_mb,
    peak_rss_mb: mb((await service.memory()).peak),
    in_flight_after_drain: inFlight,
    rss_samples_mb: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 20)) === 0).map((s) =>
      s.rss_mb
    ),
  };
}
