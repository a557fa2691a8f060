// Delivery inspection and replay for the API: a webhook's deliveries newest
// first with keyset pagination, one delivery with its attempt log, and retry,
// which gives a failed or exhausted delivery a fresh schedule. Given an
// owner, one delivery and retry see only that user's webhooks' deliveries.
import type { Sql } from "postgres";
import type { DeliveryRow, DeliveryStatus } from "./delivery-row.ts";
import { epochMicros } from "./epoch-micros.ts";
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

/**
 * Where a page ends: the last row's created_at in whole microseconds (a JS
 * Date would round them off and skip or repeat rows) and its id.
 */
export type Cursor = { micros: bigint; id: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CURSOR = /^(\d{1,19})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function encodeCursor(cursor: Cursor): string {
  return encoder.encode(`${cursor.micros}.${cursor.id}`).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Undefined for anything that is not a cursor this module made. */
export function decodeCursor(text: string): Cursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(text)) return undefined;
  let plain: string;
  try {
    plain = decoder.decode(Uint8Array.fromBase64(text, { alphabet: "base64url" }));
  } catch {
    return undefined;
  }
  const match = CURSOR.exec(plain);
  if (!match) return undefined;
  const micros = BigInt(match[1]);
  return micros < 2n ** 62n ? { micros, id: match[2] } : undefined;
}

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

export async function listDeliveries(
  sql: Sql,
  webhookId: string,
  options: { status?: DeliveryStatus; limit: number; after?: Cursor },
): Promise<DeliveryPage> {
  const after = options.after;
  const rows = await sql<(DeliverySummary & { created_micros: string })[]>`
    SELECT ${sql.unsafe(SUMMARY)},
      ${epochMicros(sql, "d.created_at")} AS created_micros
    FROM webhook_deliveries d
    WHERE d.webhook_id = ${webhookId}
      ${options.status ? sql`AND d.status = ${options.status}` : sql``}
      ${
    after
      ? sql`AND (d.created_at, d.id) < ('epoch'::timestamptz + ${after.micros.toString()}::bigint * interval '1 microsecond', ${after.id}::uuid)`
      : sql``
  }
    ORDER BY d.created_at DESC, d.id DESC
    LIMIT ${options.limit + 1}`;
  const page = rows.slice(0, options.limit);
  const last = page.at(-1);
  const next = rows.length > options.limit && last ? { micros: BigInt(last.created_micros), id: last.id } : null;
  return { deliveries: page.map(({ created_micros: _, ...row }) => row), next };
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
      UPDATE webhook_deliveries d SET status = 'pending', attempt_count = 0, next_attempt_at = now()
      WHERE d.id = ${id}
      RETURNING ${tx.unsafe(SUMMARY)}`;
    await tx`SELECT pg_notify(${DELIVERY_CHANNEL}, '')`;
    return { ok: true, delivery } as const;
  });
}
