// The dispatcher's claim: due rows, locked with SKIP LOCKED so replicas never
// share one, leased by pushing next_attempt_at out, joined to their webhook.
import type { Sql } from "postgres";
import type { ClaimedDelivery } from "../../machines/delivery.ts";
import { epochMicros } from "./epoch-micros.ts";

/** A claimed row as the dispatcher sees it, plus the webhook's secret, which never enters an actor. */
export type ClaimedRow = ClaimedDelivery & { secret: string | null };

/**
 * Claims up to `limit` due rows in one statement. SKIP LOCKED lets replicas
 * claim side by side; pushing next_attempt_at out by the claim timeout is the
 * crash-safety net: a claim whose owner died becomes due again by itself.
 *
 * The claim commits without waiting for its WAL flush (synchronous_commit
 * off, this transaction only). Other sessions see it at once; only a
 * Postgres crash in the next fraction of a second could undo it, and an
 * undone claim is a due row again: sent once more, never lost. Waiting in
 * line for the fsync behind every publish made claims slow under publishing
 * load (BENCHMARKS.md, "What changed", 8).
 */
export async function claimDue(sql: Sql, limit: number, claimTimeoutSecs: number): Promise<ClaimedRow[]> {
  if (limit <= 0) return [];
  const rows = await sql<{
    id: string;
    webhook_id: string;
    event_id: string;
    event_type: string;
    payload: string;
    attempt_count: number;
    url: string | null;
    secret: string | null;
    enabled: boolean | null;
    consecutive_failures: number | null;
    version: string | null;
  }[]>`
    WITH claimed AS (
      UPDATE webhook_deliveries d
      SET next_attempt_at = now() + make_interval(secs => ${claimTimeoutSecs})
      -- = ANY(ARRAY(…)) looks the claimed ids up by primary key; a join with
      -- a CTE of them let the planner hash-join against a scan of the table.
      WHERE d.id = ANY(ARRAY(
        SELECT id FROM webhook_deliveries
        WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED))
        AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL
      RETURNING d.id, d.webhook_id, d.event_id, d.event_type, d.payload::text AS payload, d.attempt_count
    )
    SELECT c.*, w.url, w.secret, w.enabled, w.consecutive_failures,
      ${epochMicros(sql, "w.updated_at")} AS version
    FROM claimed c LEFT JOIN user_webhooks w ON w.id = c.webhook_id`;
  return rows.map((r) => ({
    id: r.id,
    webhookId: r.webhook_id,
    eventId: r.event_id,
    eventType: r.event_type,
    payload: r.payload,
    attemptCount: r.attempt_count,
    url: r.url,
    secret: r.secret,
    webhookEnabled: r.enabled === true,
    consecutiveFailures: r.consecutive_failures ?? 0,
    webhookVersion: Number(r.version ?? 0),
  }));
}
