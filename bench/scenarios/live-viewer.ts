// The live view under load: the healthy throughput run with and without a
// dashboard's stream (GET /admin/api/v1/live) open, alternating, and what the
// stream sends to that page meanwhile (snapshots and bytes per second).
import type { Sql } from "../../src/db/client.ts";
import type { Service } from "../../test/support/service.ts";
import { round } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { TOKEN } from "../settings.ts";
import { throughput } from "./throughput.ts";

/** Reads the stream as a page would, counting snapshots and bytes until stopped. */
function openViewer(service: Service) {
  const controller = new AbortController();
  const seen = { snapshots: 0, bytes: 0 };
  const reading = (async () => {
    const response = await fetch(`${service.url}/admin/api/v1/live`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      seen.bytes += value.length;
      seen.snapshots += decoder.decode(value, { stream: true }).split("event: snapshot").length - 1;
    }
  })().catch(() => {});
  return {
    seen,
    async close() {
      controller.abort();
      await reading;
    },
  };
}

export async function liveViewer(
  sql: Sql,
  service: Service,
  postgresPid: number,
  receiver: ReceiverProcess,
  count: number,
  rounds = 2,
) {
  const without: number[] = [];
  const withViewer: number[] = [];
  let snapshotsPerSecond = 0;
  let bytesPerSecond = 0;
  for (let round_ = 0; round_ < rounds; round_++) {
    without.push((await throughput(sql, service, postgresPid, receiver, count, 0)).per_second);
    const viewer = openViewer(service);
    const run = await throughput(sql, service, postgresPid, receiver, count, 0);
    await viewer.close();
    withViewer.push(run.per_second);
    snapshotsPerSecond = Math.max(snapshotsPerSecond, viewer.seen.snapshots / run.seconds);
    bytesPerSecond = Math.max(bytesPerSecond, viewer.seen.bytes / run.seconds);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    deliveries: count,
    per_second_without_viewer: median(without),
    per_second_with_viewer: median(withViewer),
    ratio: round(median(withViewer) / median(without), 2),
    snapshots_per_second_to_page: round(snapshotsPerSecond, 1),
    bytes_per_second_to_page: round(bytesPerSecond),
  };
}
