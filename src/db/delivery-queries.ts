// Delivery inspection and replay for the API: deliveries newest first with
// keyset pagination (one webhook's, or searched across webhooks), one
// delivery with its attempt log, and retry and recover, which give failed or
// exhausted deliveries a fresh schedule. Given an owner, one delivery and
// retry see only that user's webhooks' deliveries.
import type { Sql } from "postgres";
import type { DeliveryRow, DeliveryStatus } from "./delivery-row.ts";
import { afterCursor, createdMicros, type Cursor, pageOf } from "./keyset.ts";
import { DELIVERY_CHANNEL } from "./migrations.ts";

export type DeliverySummary = Omit<DeliveryRow, "payload">;

export type AttemptRow = {
  attempt_number: number;
  outcome: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number | null;
  response_body: string | null;
  created_at: Date;
};

const SUMMARY = sqlColumns([
  "id",
  "webhook_id",
  "event_id",
  "event_type",
  "status",
  "attempt_count",
  "next_attempt_at",
  "resource_id",
  "last_status_code",
  "last_error",
  "created_at",
  "updated_at",
]);

function sqlColumns(names: string[]): string {
  return names.map((n) => `d.${n}`).join(", ");
}

export type DeliveryPage = { deliveries: DeliverySummary[]; next: Cursor | null };

export type DeliveryFilter = {
  webhookId?: string;
  status?: DeliveryStatus;
  eventType?: string;
  /** RFC 3339: created_at >= since. */
  since?: string;
  /** RFC 3339: created_at < until. */
  until?: string;
};

/**
 * Deliveries newest first, a page at a time. With a webhook the
 * webhook_id index narrows the rows to sort; across all webhooks it is a
 * top-N sort of the matching rows (an index on created_at would cost every
 * claim and result write one more index entry, for a listing).
 */
export async function searchDeliveries(
  sql: Sql,
  filter: DeliveryFilter,
  options: { limit: number; after?: Cursor },
): Promise<DeliveryPage> {
  const rows = await sql<(DeliverySummary & { created_micros: string })[]>`
    SELECT ${sql.unsafe(SUMMARY)}, ${createdMicros(sql, "d")}
    FROM webhook_deliveries d
    WHERE true
      ${filter.webhookId ? sql`AND d.webhook_id = ${filter.webhookId}` : sql``}
      ${filter.status ? sql`AND d.status = ${filter.status}` : sql``}
      ${filter.eventType ? sql`AND d.event_type = ${filter.eventType}` : sql``}
      ${filter.since ? sql`AND d.created_at >= ${filter.since}::timestamptz` : sql``}
      ${filter.until ? sql`AND d.created_at < ${filter.until}::timestamptz` : sql``}
      ${afterCursor(sql, "d", options.after)}
    ORDER BY d.created_at DESC, d.id DESC
    LIMIT ${options.limit + 1}`;
  const page = pageOf(rows, options.limit);
  return { deliveries: page.rows, next: page.next };
}

export async function listDeliveries(
  sql: Sql,
  webhookId: string,
  options: { status?: DeliveryStatus; limit: number; after?: Cursor },
): Promise<DeliveryPage> {
  return await searchDeliveries(sql, { webhookId, status: options.status }, options);
}

export type DeliveryDetail = DeliveryRow & { user_id: string | null; attempts: AttemptRow[] };

/** The delivery of any user, or with `owner` only one of that user's webhooks'. */
export async function getDeliveryDetail(sql: Sql, id: string, owner?: string): Promise<DeliveryDetail | undefined> {
  const [row] = await sql<(DeliveryRow & { user_id: string | null })[]>`
    SELECT d.*, w.user_id FROM webhook_deliveries d LEFT JOIN user_webhooks w ON w.id = d.webhook_id
    WHERE d.id = ${id} ${owner === undefined ? sql`` : sql`AND w.user_id = ${owner}`}`;
  if (!row) return undefined;
  const attempts = await sql<AttemptRow[]>`
    SELECT attempt_number, outcome, status_code, error, duration_ms, response_body, created_at
    FROM webhook_delivery_attempts WHERE delivery_id = ${id}
    ORDER BY created_at, id`;
  return { ...row, attempts };
}

/** A fresh schedule, due now: what retry and recover do to a failed or exhausted row. */
const REQUEUE = "status = 'pending', attempt_count = 0, next_attempt_at = now()";

export type RetryResult =
  | { ok: true; delivery: DeliverySummary }
  | { ok: false; reason: "not_found" | "webhook_disabled" }
  | { ok: false; reason: "not_retryable"; status: DeliveryStatus };

/**
 * Re-queues a failed or exhausted delivery (with `owner`, only one of that
 * user's webhooks') with a fresh schedule, due now,
 * and NOTIFYs the dispatchers in the same transaction (the insert trigger
 * only fires on INSERT). A retry of a failed row that a dispatcher holds
 * right now makes that dispatcher's result stale (its attempt count no
 * longer matches), so the row is sent again: at least once, as always.
 */
export async function retryDelivery(sql: Sql, id: string, owner?: string): Promise<RetryResult> {
  return await sql.begin(async (tx) => {
    const [current] = await tx<{ status: DeliveryStatus; enabled: boolean | null }[]>`
      SELECT d.status, w.enabled FROM webhook_deliveries d LEFT JOIN user_webhooks w ON w.id = d.webhook_id
      WHERE d.id = ${id} ${owner === undefined ? tx`` : tx`AND w.user_id = ${owner}`} FOR UPDATE OF d`;
    if (!current) return { ok: false, reason: "not_found" } as const;
    if (current.status !== "failed" && current.status !== "exhausted") {
      return { ok: false, reason: "not_retryable", status: current.status } as const;
    }
    if (current.enabled !== true) return { ok: false, reason: "webhook_disabled" } as const;
    const [delivery] = await tx<DeliverySummary[]>`
      UPDATE webhook_deliveries d SET ${tx.unsafe(REQUEUE)}
      WHERE d.id = ${id}
      RETURNING ${tx.unsafe(SUMMARY)}`;
    await tx`SELECT pg_notify(${DELIVERY_CHANNEL}, '')`;
    return { ok: true, delivery } as const;
  });
}

export type RecoverResult = { ok: true; requeued: number } | { ok: false; reason: "not_found" | "webhook_disabled" };

/**
 * Svix's recover: every failed or exhausted delivery of the webhook created
 * in [since, until) (until defaults to now) gets retry's fresh schedule, in one statement, with one
 * NOTIFY. The webhook row is held FOR SHARE so a concurrent disable or
 * delete cannot slip between the check and the update.
 */
export async function recoverDeliveries(
  sql: Sql,
  userId: string,
  webhookId: string,
  window: { since: string; until?: string },
): Promise<RecoverResult> {
  return await sql.begin(async (tx) => {
    const [webhook] = await tx<{ enabled: boolean }[]>`
      SELECT enabled FROM user_webhooks WHERE id = ${webhookId} AND user_id = ${userId} FOR SHARE`;
    if (!webhook) return { ok: false, reason: "not_found" } as const;
    if (!webhook.enabled) return { ok: false, reason: "webhook_disabled" } as const;
    const result = await tx`
      UPDATE webhook_deliveries d SET ${tx.unsafe(REQUEUE)}
      WHERE d.webhook_id = ${webhookId} AND d.status IN ('failed', 'exhausted')
        AND d.created_at >= ${window.since}::timestamptz
        AND d.created_at < coalesce(${window.until ?? null}::timestamptz, now())`;
    if (result.count > 0) await tx`SELECT pg_notify(${DELIVERY_CHANNEL}, '')`;
    return { ok: true, requeued: result.count } as const;
  });
}
