// How the scenarios measure: rows the service has finished with, a process's
// resident set sampled while a scenario runs, and numbers rounded for the
// report.
import { writeFile } from "node:fs/promises";
import type { Sql } from "../src/db/client.ts";
import { memoryOf } from "../test/support/service.ts";

export const round = (n: number, digits = 0) => Number(n.toFixed(digits));
export const mb = (bytes: number) => round(bytes / 1048576, 1);

/** Rows of these webhooks with their one attempt recorded (delivered, or failed after an attempt). */
export const settledRows = async (sql: Sql, webhookIds: string[]) => {
  const [r] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM webhook_deliveries
    WHERE webhook_id = ANY(${webhookIds}::uuid[]) AND status <> 'pending'
      AND NOT (status = 'failed' AND attempt_count = 0)`;
  return r.n;
};

/**
 * Resets a process's peak resident set (VmHWM) to its current one, so the
 * peak read later is that of what ran since, not of the process's whole
 * life (Linux ≥ 4.0, /proc/<pid>/clear_refs; the process must be ours).
 */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, "5");
}

/** Samples a process's resident set every 100 ms while `body` runs. */
export async function sampled<T>(pid: number, body: () => Promise<T>): Promise<{ result: T; peakRss: number }> {
  let peak = 0;
  const timer = setInterval(() => void memoryOf(pid).then((m) => (peak = Math.max(peak, m.rss)), () => {}), 100);
  try {
    const result = await body();
    peak = Math.max(peak, (await memoryOf(pid)).rss);
    return { result, peakRss: peak };
  } finally {
    clearInterval(timer);
  }
}
