// Claim latency: the real claim statement timed on its own against a due
// backlog, each claim rolled back so the backlog stays due.
import type { Sql } from "../../src/db/client.ts";
import { claimDue } from "../../src/db/claim.ts";
import { round } from "../measure.ts";

/** The claim statement's latency: `limit` rows out of a due backlog, each in a rolled-back transaction. */
export async function claimLatency(sql: Sql, limit: number, rounds = 200) {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await sql
      .begin(async (tx) => {
        const t = performance.now();
        const rows = await claimDue(tx as unknown as Sql, limit, 300);
        times.push(performance.now() - t);
        if (rows.length !== limit) throw new Error(`claimed ${rows.length} of ${limit}`);
        throw new Rollback();
      })
      .catch((e) => {
        if (!(e instanceof Rollback)) throw e;
      });
  }
  times.sort((a, b) => a - b);
  return {
    limit,
    p50_ms: round(times[Math.floor(rounds * 0.5)], 2),
    p99_ms: round(times[Math.floor(rounds * 0.99)], 2),
  };
}
class Rollback extends Error {}
