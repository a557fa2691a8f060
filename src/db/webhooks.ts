// Webhook endpoints (dwctl's user_webhooks): create, read, list, update,
// delete, rotate the secret, and the circuit breaker's counter. Secrets leave
// this module only from create and rotate; everything else returns
// WebhookView, which has no secret field.
import type { Sql } from "postgres";
import { generateSecret } from "../send/signing.ts";

export type Scope = "own" | "platform";

export type WebhookView = {
  id: string;
  user_id: string;
  url: string;
  enabled: boolean;
  event_types: string[] | null;
  description: string | null;
  scope: Scope;
  created_at: Date;
  updated_at: Date;
  disabled_at: Date | null;
};

export type NewWebhook = {
  userId: string;
  url: string;
  eventTypes?: string[] | null;
  description?: string | null;
  scope?: Scope;
};

export type WebhookPatch = {
  url?: string;
  enabled?: boolean;
  eventTypes?: string[] | null;
  description?: string | null;
};

const VIEW = "id, user_id, url, enabled, event_types, description, scope, created_at, updated_at, disabled_at";

export async function createWebhook(sql: Sql, w: NewWebhook): Promise<{ webhook: WebhookView; secret: string }> {
  const secret = generateSecret();
  const [webhook] = await sql<WebhookView[]>`
    INSERT INTO user_webhooks (user_id, url, secret, event_types, description, scope)
    VALUES (${w.userId}, ${w.url}, ${secret}, ${w.eventTypes ? sql.json(w.eventTypes) : null},
            ${w.description ?? null}, ${w.scope ?? "own"})
    RETURNING ${sql.unsafe(VIEW)}`;
  return { webhook, secret };
}

export async function getWebhook(sql: Sql, userId: string, id: string): Promise<WebhookView | undefined> {
  const [webhook] = await sql<WebhookView[]>`
    SELECT ${sql.unsafe(VIEW)} FROM user_webhooks WHERE id = ${id} AND user_id = ${userId}`;
  return webhook;
}

export async function listWebhooks(sql: Sql, userId: string): Promise<WebhookView[]> {
  return await sql<WebhookView[]>`
    SELECT ${sql.unsafe(VIEW)} FROM user_webhooks WHERE user_id = ${userId} ORDER BY created_at DESC, id DESC`;
}

/** `enabled: true` also clears disabled_at and the failure counter, as in dwctl. */
export async function updateWebhook(
  sql: Sql,
  userId: string,
  id: string,
  patch: WebhookPatch,
): Promise<WebhookView | undefined> {
  const hasTypes = patch.eventTypes !== undefined;
  const [webhook] = await sql<WebhookView[]>`
    UPDATE user_webhooks SET
      url = coalesce(${patch.url ?? null}, url),
      event_types = CASE WHEN ${hasTypes} THEN ${
    patch.eventTypes ? sql.json(patch.eventTypes) : null
  }::jsonb ELSE event_types END,
      description = CASE WHEN ${patch.description !== undefined} THEN ${patch.description ?? null} ELSE description END,
      enabled = coalesce(${patch.enabled ?? null}, enabled),
      disabled_at = CASE WHEN ${patch.enabled === true} THEN NULL ELSE disabled_at END,
      consecutive_failures = CASE WHEN ${patch.enabled === true} THEN 0 ELSE consecutive_failures END
    WHERE id = ${id} AND user_id = ${userId}
    RETURNING ${sql.unsafe(VIEW)}`;
  return webhook;
}

export async function deleteWebhook(sql: Sql, userId: string, id: string): Promise<boolean> {
  const result = await sql`DELETE FROM user_webhooks WHERE id = ${id} AND user_id = ${userId}`;
  return result.count > 0;
}

/** A new secret; the old one signs nothing from the next claim on. */
export async function rotateSecret(
  sql: Sql,
  userId: string,
  id: string,
): Promise<{ webhook: WebhookView; secret: string } | undefined> {
  const secret = generateSecret();
  const [webhook] = await sql<WebhookView[]>`
    UPDATE user_webhooks SET secret = ${secret} WHERE id = ${id} AND user_id = ${userId}
    RETURNING ${sql.unsafe(VIEW)}`;
  return webhook && { webhook, secret };
}

/** WebhookView's columns (no secret), for the listings in other modules. */
export const WEBHOOK_COLUMNS = VIEW;
