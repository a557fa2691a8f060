// dwctl's single-row writes (dwctl/src/db/handlers/webhooks.rs), ported
// statement for statement: the reference that the batched result write
// (src/db/outcomes.ts) and the dispatcher are tested against. Like dwctl's,
// the delivery writes touch only the delivery row; the webhook's counter has
// its own calls. Terminal rows are never changed.
import type { Sql } from "postgres";
import { afterFailure } from "../../machines/retry-schedule.ts";
import type { DeliveryRow } from "../../src/db/delivery-row.ts";

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

export async function markDelivered(sql: Sql, id: string, statusCode: number): Promise<void> {
  await sql`
    UPDATE webhook_deliveries
    SET status = 'delivered', attempt_count = attempt_count + 1, last_status_code = ${statusCode}, last_error = NULL
    WHERE id = ${id} AND status IN ('pending', 'failed')`;
}

export type FailedAttempt = { statusCode: number | null; error: string };

export async function markFailed(
  sql: Sql,
  id: string,
  attempt: FailedAttempt,
  schedule: readonly number[],
): Promise<void> {
  const row = await getDelivery(sql, id);
  if (!row || (row.status !== "pending" && row.status !== "failed")) return;
  const next = afterFailure(row.attempt_count, schedule);
  await sql`
    UPDATE webhook_deliveries
    SET status = ${next.status},
        attempt_count = attempt_count + 1,
        next_attempt_at = CASE WHEN ${next.status} = 'failed'
          THEN now() + make_interval(secs => ${next.status === "failed" ? next.retryDelaySecs : 0})
          ELSE now() END,
        last_status_code = ${attempt.statusCode},
        last_error = ${attempt.error}
    WHERE id = ${id} AND attempt_count = ${row.attempt_count} AND status IN ('pending', 'failed')`;
}

export async function markExhausted(sql: Sql, id: string, reason = "webhook disabled"): Promise<void> {
  await sql`
    UPDATE webhook_deliveries SET status = 'exhausted', last_error = ${reason}
    WHERE id = ${id} AND status IN ('pending', 'failed')`;
}

export type BreakerState = { consecutiveFailures: number; enabled: boolean; tripped: boolean };

/**
 * dwctl's increment: atomic, and at the threshold it disables the webhook.
 * Returns undefined when the webhook no longer exists.
 */
export async function incrementFailures(sql: Sql, id: string, threshold: number): Promise<BreakerState | undefined> {
  const [row] = await sql<{ consecutive_failures: number; enabled: boolean; tripped: boolean }[]>`
    UPDATE user_webhooks SET
      consecutive_failures = consecutive_failures + 1,
      enabled = CASE WHEN consecutive_failures + 1 >= ${threshold} THEN false ELSE enabled END,
      disabled_at = CASE WHEN enabled AND consecutive_failures + 1 >= ${threshold} THEN now() ELSE disabled_at END
    WHERE id = ${id}
    RETURNING consecutive_failures, enabled, (NOT enabled AND disabled_at = now()) AS tripped`;
  return row && { consecutiveFailures: row.consecutive_failures, enabled: row.enabled, tripped: row.tripped };
}

export async function resetFailures(sql: Sql, id: string): Promise<void> {
  await sql`UPDATE user_webhooks SET consecutive_failures = 0 WHERE id = ${id}`;
}
