// dwctl's single-row writes (dwctl/src/db/handlers/webhooks.rs), ported
// statement for statement: the reference that the batched result write
// (src/db/outcomes.ts) and the dispatcher are tested against. Like dwctl's,
// the delivery writes touch only the delivery row (the webhook's counter has
// its own calls) and match it by id alone: no guard against a stale result or
// a terminal row, which the batched write adds (README, "Differences from
// dwctl").
import type { Sql } from "postgres";
import { afterFailure } from "../../machines/retry-schedule.ts";
import type { DeliveryRow } from "../../src/db/delivery-row.ts";

export type NewDelivery = {
  webhookId: string;
  eventId: string;
  eventType: string;
  payload: unknown;
  resourceId?: string | null;
  /** dwctl's create_delivery takes one; unset means now(). */
  nextAttemptAt?: Date | null;
};

export async function createDelivery(sql: Sql, d: NewDelivery): Promise<DeliveryRow> {
  const [row] = await sql<DeliveryRow[]>`
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, resource_id, next_attempt_at)
    VALUES (${d.webhookId}, ${d.eventId}, ${d.eventType}, ${sql.json(d.payload as never)}, ${d.resourceId ?? null},
      coalesce(${d.nextAttemptAt ?? null}::timestamptz, now()))
    RETURNING *`;
  return row;
}

/** Returns undefined when a delivery for (webhook, event type, resource) already exists. */
export async function createDeliveryIdempotent(sql: Sql, d: NewDelivery): Promise<DeliveryRow | undefined> {
  const [row] = await sql<DeliveryRow[]>`
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, resource_id, next_attempt_at)
    VALUES (${d.webhookId}, ${d.eventId}, ${d.eventType}, ${sql.json(d.payload as never)}, ${d.resourceId ?? null},
      coalesce(${d.nextAttemptAt ?? null}::timestamptz, now()))
    ON CONFLICT (webhook_id, event_type, resource_id) WHERE resource_id IS NOT NULL DO NOTHING
    RETURNING *`;
  return row;
}

export async function getDelivery(sql: Sql, id: string): Promise<DeliveryRow | undefined> {
  const [row] = await sql<DeliveryRow[]>`SELECT * FROM webhook_deliveries WHERE id = ${id}`;
  return row;
}

/** dwctl's mark_delivered: no status condition, and the last failure's error is cleared. */
export async function markDelivered(sql: Sql, id: string, statusCode: number): Promise<void> {
  await sql`
    UPDATE webhook_deliveries
    SET status = 'delivered', attempt_count = attempt_count + 1, last_status_code = ${statusCode}, last_error = NULL
    WHERE id = ${id}`;
}

/**
 * dwctl's mark_failed: `currentAttempt` is the attempt count the row had when
 * claimed, and the new count is written as a value, not incremented. An
 * exhausted row's next_attempt_at becomes now(). dwctl binds the app's
 * Utc::now(); the database's now() stands in for it here (one clock on one
 * host), which keeps the comparison with the batched write exact.
 */
export async function markFailed(
  sql: Sql,
  id: string,
  statusCode: number | null,
  error: string,
  currentAttempt: number,
  schedule: readonly number[],
): Promise<void> {
  const next = afterFailure(currentAttempt, schedule);
  const delaySecs = next.status === "failed" ? next.retryDelaySecs : 0;
  await sql`
    UPDATE webhook_deliveries
    SET status = ${next.status},
        attempt_count = ${currentAttempt + 1},
        next_attempt_at = now() + make_interval(secs => ${delaySecs}),
        last_status_code = ${statusCode},
        last_error = ${error}
    WHERE id = ${id}`;
}

/** dwctl's mark_exhausted (webhook missing or disabled): attempt count and next_attempt_at stay. */
export async function markExhausted(sql: Sql, id: string): Promise<void> {
  await sql`
    UPDATE webhook_deliveries SET status = 'exhausted', last_error = 'webhook disabled'
    WHERE id = ${id}`;
}

export type WebhookCounter = { consecutiveFailures: number; enabled: boolean; disabledAt: Date | null };

/**
 * dwctl's increment_failures: atomic, and at or past the threshold it
 * disables the webhook and stamps disabled_at, again on every later failure.
 * Returns undefined when the webhook no longer exists.
 */
export async function incrementFailures(
  sql: Sql,
  id: string,
  threshold: number,
): Promise<WebhookCounter | undefined> {
  const [row] = await sql<{ consecutive_failures: number; enabled: boolean; disabled_at: Date | null }[]>`
    UPDATE user_webhooks SET
      consecutive_failures = consecutive_failures + 1,
      enabled = CASE WHEN consecutive_failures + 1 >= ${threshold} THEN false ELSE enabled END,
      disabled_at = CASE WHEN consecutive_failures + 1 >= ${threshold} THEN now() ELSE disabled_at END
    WHERE id = ${id}
    RETURNING consecutive_failures, enabled, disabled_at`;
  return row && { consecutiveFailures: row.consecutive_failures, enabled: row.enabled, disabledAt: row.disabled_at };
}

export async function resetFailures(sql: Sql, id: string): Promise<void> {
  await sql`UPDATE user_webhooks SET consecutive_failures = 0 WHERE id = ${id}`;
}
