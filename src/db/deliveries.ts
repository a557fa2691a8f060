// Delivery rows: create (plain or idempotent per resource), claim due rows for
// the dispatcher, and dwctl's single-row result writes.
import type { Sql } from "postgres";
import type { ClaimedDelivery } from "../../machines/delivery.ts";
import { afterFailure } from "../../machines/retry-schedule.ts";

export type DeliveryStatus = "pending" | "delivered" | "failed" | "exhausted";

export type DeliveryRow = {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  payload: unknown;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date;
  resource_id: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
};

export type NewDelivery = {
  webhookId: string;
  eventId: string;
  eventType: string;
  payload: unknown;
  resourceId?: string | null;
};

export async function createDelivery(sql: Sql, d: NewDelivery): Promise<DeliveryRow> {
  const [row] = await sql<DeliveryRow[]>`
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, resource_id)
    VALUES (${d.webhookId}, ${d.eventId}, ${d.eventType}, ${sql.json(d.payload as never)}, ${d.resourceId ?? null})
    RETURNING *`;
  return row;
}

/** Returns undefined when a delivery for (webhook, event type, resource) already exists. */
export async function createDeliveryIdempotent(sql: Sql, d: NewDelivery): Promise<DeliveryRow | undefined> {
  const [row] = await sql<DeliveryRow[]>`
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, resource_id)
    VALUES (${d.webhookId}, ${d.eventId}, ${d.eventType}, ${sql.json(d.payload as never)}, ${d.resourceId ?? null})
    ON CONFLICT (webhook_id, event_type, resource_id) WHERE resource_id IS NOT NULL DO NOTHING
    RETURNING *`;
  return row;
}

export async function getDelivery(sql: Sql, id: string): Promise<DeliveryRow | undefined> {
  const [row] = await sql<DeliveryRow[]>`SELECT * FROM webhook_deliveries WHERE id = ${id}`;
  return row;
}

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
 * line for the fsync behind every publish made a 30-row claim take 17 ms at
 * the median and 136 ms at p99 under 1,000 publishes/s.
 */
export async function claimDue(sql: Sql, limit: number, claimTimeoutSecs: number): Promise<ClaimedRow[]> {
  if (limit <= 0) return [];
  const rows = await sql<{
    id: string; webhook_id: string; event_id: string; event_type: string; payload: string;
    attempt_count: number; url: string | null; secret: string | null; enabled: boolean | null;
    consecutive_failures: number | null; version: string | null;
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
      (extract(epoch FROM w.updated_at) * 1000000)::bigint::text AS version
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

// dwctl's single-row writes, kept for callers outside the dispatcher and as
// the reference the batched write (outcomes.ts) is tested against. Like
// dwctl's, they touch only the delivery row; the webhook's counter has its
// own calls in webhooks.ts. Terminal rows are never changed.

export async function markDelivered(sql: Sql, id: string, statusCode: number): Promise<void> {
  await sql`
    UPDATE webhook_deliveries
    SET status = 'delivered', attempt_count = attempt_count + 1, last_status_code = ${statusCode}
    WHERE id = ${id} AND status IN ('pending', 'failed')`;
}

export type FailedAttempt = { statusCode: number | null; error: string };

export async function markFailed(sql: Sql, id: string, attempt: FailedAttempt, schedule: readonly number[]): Promise<void> {
  const row = await getDelivery(sql, id);
  if (!row || (row.status !== "pending" && row.status !== "failed")) return;
  const next = afterFailure(row.attempt_count, schedule);
  await sql`
    UPDATE webhook_deliveries
    SET status = ${next.status},
        attempt_count = attempt_count + 1,
        next_attempt_at = CASE WHEN ${next.status} = 'failed'
          THEN now() + make_interval(secs => ${next.status === "failed" ? next.retryDelaySecs : 0})
          ELSE next_attempt_at END,
        last_status_code = ${attempt.statusCode},
        last_error = ${attempt.error}
    WHERE id = ${id} AND attempt_count = ${row.attempt_count} AND status IN ('pending', 'failed')`;
}

export async function markExhausted(sql: Sql, id: string, reason = "webhook disabled"): Promise<void> {
  await sql`
    UPDATE webhook_deliveries SET status = 'exhausted', last_error = ${reason}
    WHERE id = ${id} AND status IN ('pending', 'failed')`;
}
