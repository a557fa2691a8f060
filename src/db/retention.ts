// Bounds the attempt log: rows older than the retention window are deleted in
// small batches, so pruning never holds long locks or one huge transaction
// next to the dispatcher's writes. Delivery rows themselves are kept.
import type { Sql } from "postgres";

/** Deletes attempt-log rows older than `days`; returns how many. */
export async function pruneAttempts(sql: Sql, days: number, batchSize = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await sql`
      DELETE FROM webhook_delivery_attempts
      WHERE id IN (
        SELECT id FROM webhook_delivery_attempts
        WHERE created_at < now() - make_interval(days => ${days})
        LIMIT ${batchSize}
      )`;
    total += result.count;
    if (result.count < batchSize) return total;
  }
}
