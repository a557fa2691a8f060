// The batched result write: one statement records a whole batch of delivery
// outcomes, their attempt-log rows and every affected webhook's failure
// counter and breaker, where dwctl spends two round trips per delivery.
// Behaviour per row is dwctl's; the per-webhook counter follows the outcomes
// in the order they finished, exactly as if applied one at a time.
//
// Like a claim, the write commits without waiting for its WAL flush: if a
// Postgres crash undid it, the rows would still be claimed and come due again
// when the claim runs out, to be sent once more, never lost.
import type { Sql } from "postgres";
import type { RecordedWebhook, ResultBatch } from "../../machines/dispatcher.ts";
import { epochMicros } from "./epoch-micros.ts";

// Postgres text cannot hold NUL; a receiver's body might.
const storable = (text: string | null) => (text === null ? null : text.replaceAll("\u0000", ""));

export async function recordOutcomes(sql: Sql, batch: ResultBatch, threshold: number): Promise<RecordedWebhook[]> {
  const rows = [
    ...batch.outcomes.map((o, ord) => ({
      ord,
      id: o.deliveryId,
      status: o.status,
      attempted: o.attempted,
      attempts_before: o.attemptsBefore,
      retry_delay_secs: o.retryDelaySecs,
      status_code: o.statusCode,
      error: storable(o.error),
      duration_ms: o.durationMs === null ? null : Math.round(o.durationMs),
      response_body: storable(o.responseBody),
    })),
    ...batch.released.map((r, i) => ({
      ord: batch.outcomes.length + i,
      id: r.deliveryId,
      status: "released",
      attempted: false,
      attempts_before: r.attemptsBefore,
      retry_delay_secs: null,
      status_code: null,
      error: null,
      duration_ms: null,
      response_body: null,
    })),
  ];
  if (rows.length === 0) return [];
  const recorded = await sql<
    { id: string; consecutive_failures: number; enabled: boolean; tripped: boolean; version: string }[]
  >`
    WITH input AS (
      SELECT * FROM json_to_recordset(${sql.json(rows)}::json) AS i(
        ord int, id uuid, status text, attempted boolean, attempts_before int, retry_delay_secs int,
        status_code int, error text, duration_ms int, response_body text),
        (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
    ),
    applied AS (
      UPDATE webhook_deliveries d SET
        status = CASE WHEN i.status = 'released' THEN d.status ELSE i.status END,
        attempt_count = d.attempt_count + CASE WHEN i.attempted THEN 1 ELSE 0 END,
        -- As dwctl: mark_failed sets the next attempt, or now() when it
        -- exhausts the row; mark_delivered and mark_exhausted (unsent) leave
        -- the claim's bump.
        next_attempt_at = CASE
          WHEN i.status = 'failed' THEN now() + make_interval(secs => i.retry_delay_secs)
          WHEN i.status = 'exhausted' AND i.attempted THEN now()
          WHEN i.status = 'released' THEN now()
          ELSE d.next_attempt_at END,
        last_status_code = CASE WHEN i.attempted THEN i.status_code ELSE d.last_status_code END,
        -- A delivered row carries no error, whatever the attempts before it said.
        last_error = CASE
          WHEN i.status = 'released' THEN d.last_error
          WHEN i.status = 'delivered' THEN NULL
          ELSE i.error END
      FROM input i
      -- The attempt count guards against a stale writer: if our claim ran out
      -- and another dispatcher recorded this row since, our result is dropped.
      WHERE d.id = i.id AND d.attempt_count = i.attempts_before AND d.status IN ('pending', 'failed')
      RETURNING d.id, d.webhook_id, d.attempt_count
    ),
    logged AS (
      INSERT INTO webhook_delivery_attempts
        (delivery_id, webhook_id, attempt_number, outcome, status_code, error, duration_ms, response_body)
      SELECT i.id, a.webhook_id, a.attempt_count, i.status, i.status_code, i.error, i.duration_ms, i.response_body
      FROM input i JOIN applied a ON a.id = i.id
      WHERE i.attempted
    ),
    marked AS (
      SELECT a.webhook_id, i.status = 'delivered' AS success,
        count(*) FILTER (WHERE i.status = 'delivered') OVER (PARTITION BY a.webhook_id ORDER BY i.ord) AS run
      FROM input i JOIN applied a ON a.id = i.id
      WHERE i.attempted
    ),
    runs AS (
      SELECT webhook_id, run, count(*) FILTER (WHERE NOT success) AS failures
      FROM marked GROUP BY webhook_id, run
    ),
    per_webhook AS (
      SELECT webhook_id,
        max(run) AS successes,
        coalesce(max(failures) FILTER (WHERE run = 0), 0) AS leading,
        coalesce(max(failures) FILTER (WHERE run > 0), 0) AS longest_later,
        (array_agg(failures ORDER BY run DESC))[1] AS trailing
      FROM runs GROUP BY webhook_id
    ),
    webhooks AS (
      UPDATE user_webhooks w SET
        consecutive_failures = CASE WHEN p.successes > 0 THEN p.trailing ELSE w.consecutive_failures + p.leading END,
        enabled = CASE
          WHEN (p.leading > 0 AND w.consecutive_failures + p.leading >= ${threshold}) OR p.longest_later >= ${threshold}
          THEN false ELSE w.enabled END,
        disabled_at = CASE
          WHEN w.enabled AND ((p.leading > 0 AND w.consecutive_failures + p.leading >= ${threshold}) OR p.longest_later >= ${threshold})
          THEN now() ELSE w.disabled_at END
      FROM per_webhook p
      WHERE w.id = p.webhook_id
        -- An all-success batch on a healthy webhook changes nothing: skip the write.
        AND NOT (p.leading = 0 AND p.longest_later = 0 AND w.consecutive_failures = 0)
      RETURNING w.id, w.consecutive_failures, w.enabled, (NOT w.enabled AND w.disabled_at = now()) AS tripped,
        ${epochMicros(sql, "w.updated_at")} AS version
    )
    SELECT id, consecutive_failures, enabled, tripped, version FROM webhooks`;
  return recorded.map((r) => ({
    webhookId: r.id,
    consecutiveFailures: r.consecutive_failures,
    enabled: r.enabled,
    tripped: r.tripped,
    version: Number(r.version),
  }));
}
