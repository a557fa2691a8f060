// Every webhook, across users, for the operator's listing: the usual fields,
// the breaker's counter, and the latest recorded attempt, newest webhook
// first and keyset-paged. One statement: the page is cut first, then a
// LATERAL lookup per row of the page reads its newest attempt through the
// (webhook_id, id) index of the attempt log (migration 5).
import type { Sql } from "postgres";
import { afterCursor, createdMicros, type Cursor, pageOf } from "./keyset.ts";
import { WEBHOOK_COLUMNS, type WebhookView } from "./webhooks.ts";

export type WebhookOverview = WebhookView & {
  consecutive_failures: number;
  last_attempt_at: Date | null;
  last_status_code: number | null;
};

export type WebhookFilter = { userId?: string; enabled?: boolean };

export async function listAllWebhooks(
  sql: Sql,
  filter: WebhookFilter,
  options: { limit: number; after?: Cursor },
): Promise<{ webhooks: WebhookOverview[]; next: Cursor | null }> {
  const rows = await sql<(WebhookOverview & { created_micros: string })[]>`
    WITH page AS (
      SELECT ${sql.unsafe(WEBHOOK_COLUMNS)}, consecutive_failures, ${createdMicros(sql, "w")}
      FROM user_webhooks w
      WHERE true
        ${filter.userId ? sql`AND w.user_id = ${filter.userId}` : sql``}
        ${filter.enabled === undefined ? sql`` : sql`AND w.enabled = ${filter.enabled}`}
        ${afterCursor(sql, "w", options.after)}
      ORDER BY w.created_at DESC, w.id DESC
      LIMIT ${options.limit + 1}
    )
    SELECT page.*, latest.created_at AS last_attempt_at, latest.status_code AS last_status_code
    FROM page
    LEFT JOIN LATERAL (
      SELECT a.created_at, a.status_code FROM webhook_delivery_attempts a
      WHERE a.webhook_id = page.id
      ORDER BY a.id DESC
      LIMIT 1
    ) latest ON true
    ORDER BY page.created_at DESC, page.id DESC`;
  const page = pageOf(rows, options.limit);
  return { webhooks: page.rows, next: page.next };
}
