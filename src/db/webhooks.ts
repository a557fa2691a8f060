// Webhook endpoints (dwctl's user_webhooks): create (with or without the
// per-user cap), read, list, update, delete, rotate the secret, and the
// circuit breaker's counter. Secrets leave this module only from create and
// rotate; everything else returns WebhookView, which has no secret field.
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
  rate_limit: number | null;
  max_in_flight: number | null;
  breaker_state: "closed" | "open" | "half_open";
};

export type NewWebhook = {
  userId: string;
  url: string;
  eventTypes?: string[] | null;
  description?: string | null;
  scope?: Scope;
  rateLimit?: number | null;
  maxInFlight?: number | null;
};

export type WebhookPatch = {
  url?: string;
  enabled?: boolean;
  eventTypes?: string[] | null;
  description?: string | null;
  rateLimit?: number | null;
  maxInFlight?: number | null;
};

// The breaker as the policy sees it: a webhook disabled by a trip (disabled_at
// set) is open, or half_open while its probe is out.
const BREAKER_STATE = `CASE WHEN enabled OR disabled_at IS NULL THEN 'closed'
  WHEN (SELECT s.breaker FROM webhook_endpoint_state s WHERE s.webhook_id = id) = 'half_open'
  THEN 'half_open' ELSE 'open' END AS breaker_state`;
const VIEW = "id, user_id, url, enabled, event_types, description, scope, created_at, updated_at, disabled_at, " +
  `rate_limit, max_in_flight, ${BREAKER_STATE}`;

/**
 * Key space of the per-user advisory lock (the two-int form, apart from the
 * migrations' bigint key): creates for one user take turns, so concurrent
 * ones cannot all see room for one more and overshoot the cap.
 */
const USER_CAP_LOCK = 0x5348_4b31; // "SHK1"

/**
 * Creates a webhook with a new secret, unless the user already has `limit`
 * webhooks (any scope, enabled or not): then undefined. Counting and
 * inserting under a per-user transaction lock keeps the cap under concurrent
 * creates; rows written around statehook (dwctl itself) do not take the lock
 * and are only counted.
 */
export async function createWebhookWithinLimit(
  sql: Sql,
  w: NewWebhook,
  limit: number,
): Promise<{ webhook: WebhookView; secret: string } | undefined> {
  const secret = generateSecret();
  const eventTypes = w.eventTypes ? sql.json(w.eventTypes) : null;
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${USER_CAP_LOCK}::int, hashtext(${w.userId}::uuid::text))`;
    const [webhook] = await tx<WebhookView[]>`
      INSERT INTO user_webhooks (user_id, url, secret, event_types, description, scope, rate_limit, max_in_flight)
      SELECT ${w.userId}::uuid, ${w.url}::text, ${secret}::text, ${eventTypes}::jsonb,
             ${w.description ?? null}::text, ${w.scope ?? "own"}::text,
             ${w.rateLimit ?? null}::int, ${w.maxInFlight ?? null}::int
      WHERE (SELECT count(*) FROM user_webhooks WHERE user_id = ${w.userId}::uuid) < ${limit}
      RETURNING ${tx.unsafe(VIEW)}`;
    return webhook && { webhook, secret };
  });
}

/** createWebhookWithinLimit with no cap: for callers that are not the API (tests, seeding). */
export async function createWebhook(sql: Sql, w: NewWebhook): Promise<{ webhook: WebhookView; secret: string }> {
  return (await createWebhookWithinLimit(sql, w, Number.MAX_SAFE_INTEGER))!;
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

/**
 * `enabled: true` also clears disabled_at and the failure counter, as in
 * dwctl, and closes the breaker (no cool-down, no probe left).
 */
export async function updateWebhook(
  sql: Sql,
  userId: string,
  id: string,
  patch: WebhookPatch,
): Promise<WebhookView | undefined> {
  const hasTypes = patch.eventTypes !== undefined;
  if (patch.enabled === true) {
    await sql`
      UPDATE webhook_endpoint_state SET breaker = 'closed', reopen_at = NULL, cooldown_secs = NULL, probe_until = NULL
      WHERE webhook_id = ${id} AND webhook_id IN (SELECT w.id FROM user_webhooks w WHERE w.user_id = ${userId})`;
  }
  const [webhook] = await sql<WebhookView[]>`
    UPDATE user_webhooks SET
      url = coalesce(${patch.url ?? null}, url),
      event_types = CASE WHEN ${hasTypes} THEN ${
    patch.eventTypes ? sql.json(patch.eventTypes) : null
  }::jsonb ELSE event_types END,
      description = CASE WHEN ${patch.description !== undefined} THEN ${patch.description ?? null} ELSE description END,
      rate_limit = CASE WHEN ${patch.rateLimit !== undefined} THEN ${patch.rateLimit ?? null}::int ELSE rate_limit END,
      max_in_flight = CASE WHEN ${patch.maxInFlight !== undefined} THEN ${
    patch.maxInFlight ?? null
  }::int ELSE max_in_flight END,
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

/**
 * A new secret. For `graceSecs` the old one signs too (a second signature),
 * kept in webhook_endpoint_state and cleared by the first rotation or claim
 * after the grace; with 0 it signs nothing from the next claim on.
 */
export async function rotateSecret(
  sql: Sql,
  userId: string,
  id: string,
  graceSecs = 0,
): Promise<{ webhook: WebhookView; secret: string } | undefined> {
  const secret = generateSecret();
  return await sql.begin(async (tx) => {
    const [old] = await tx<{ secret: string }[]>`
      SELECT secret FROM user_webhooks WHERE id = ${id} AND user_id = ${userId} FOR UPDATE`;
    if (!old) return undefined;
    await tx`
      INSERT INTO webhook_endpoint_state AS s (webhook_id, previous_secret, previous_secret_until)
      VALUES (${id}, ${graceSecs > 0 ? old.secret : null},
        CASE WHEN ${graceSecs} > 0 THEN now() + make_interval(secs => ${graceSecs}) END)
      ON CONFLICT (webhook_id) DO UPDATE
        SET previous_secret = EXCLUDED.previous_secret, previous_secret_until = EXCLUDED.previous_secret_until`;
    const [webhook] = await tx<WebhookView[]>`
      UPDATE user_webhooks SET secret = ${secret} WHERE id = ${id} RETURNING ${tx.unsafe(VIEW)}`;
    return { webhook, secret };
  });
}

/** Old secrets whose grace period is over leave the database (the claim ignores them already). */
export async function forgetExpiredSecrets(sql: Sql): Promise<number> {
  const result = await sql`
    UPDATE webhook_endpoint_state SET previous_secret = NULL, previous_secret_until = NULL
    WHERE previous_secret IS NOT NULL AND previous_secret_until <= now()`;
  return result.count;
}

/** WebhookView's columns (no secret), for the listings in other modules. */
export const WEBHOOK_COLUMNS = VIEW;
