// The batched result write: one statement records a whole batch of delivery
// outcomes, their attempt-log rows and every affected webhook's failure
// counter and breaker, where dwctl spends two round trips per delivery.
// Behaviour per row is dwctl's; the per-webhook counter follows the outcomes
// in the order they finished, exactly as if applied one at a time. The same
// statement moves each endpoint's shared policy state: the breaker (trip,
// probe closes or re-opens it with a doubled cool-down, 410 Gone), and the
// pause a Retry-After asked for.
//
// Like a claim, the write commits without waiting for its WAL flush: if a
// Postgres crash undid it, the rows would still be claimed and come due again
// when the claim runs out, to be sent once more, never lost.
import type { Sql } from "postgres";
import type { ResultBatch } from "../../machines/dispatcher.ts";
import type { Recorded } from "../../machines/result-writer.ts";
import type { EndpointReport } from "../../machines/webhook.ts";

export type BreakerPolicy = {
  /** null: a tripped breaker stays open until re-enabled (dwctl). */
  breakerCooldownSecs: number | null;
  breakerCooldownMaxSecs: number;
};

const DWCTL: BreakerPolicy = { breakerCooldownSecs: null, breakerCooldownMaxSecs: 3600 };

// Postgres text cannot hold NUL; a receiver's body might.
const storable = (text: string | null) => (text === null ? null : text.replaceAll("\u0000", ""));

export async function recordOutcomes(
  sql: Sql,
  batch: ResultBatch,
  threshold: number,
  policy: BreakerPolicy = DWCTL,
): Promise<Recorded> {
  const rows = [
    ...batch.outcomes.map((o) => ({
      id: o.deliveryId,
      status: o.status,
      attempted: o.attempted,
      attempts_before: o.attemptsBefore,
      retry_delay_secs: o.retryDelaySecs,
      status_code: o.statusCode,
      error: storable(o.error),
      duration_ms: o.durationMs === null ? null : Math.round(o.durationMs),
      response_body: storable(o.responseBody),
      probe: o.probe ?? false,
      gone: o.gone ?? false,
      pause_secs: o.pauseSecs ?? null,
    })),
    ...batch.released.map((r) => ({
      id: r.deliveryId,
      status: "released",
      attempted: false,
      attempts_before: r.attemptsBefore,
      retry_delay_secs: r.delaySecs ?? null,
      status_code: null,
      error: null,
      duration_ms: null,
      response_body: null,
      probe: false,
      gone: false,
      pause_secs: null,
    })),
  ];
  if (rows.length === 0) return { webhooks: [], exhausted: 0 };
  const column = <T>(pick: (row: typeof rows[number]) => T) => rows.map(pick);
  // sql.array types a boolean column as bool[]; a bare JS array of booleans goes as a single boolean.
  const flags = (pick: (row: typeof rows[number]) => boolean) => sql.array(rows.map(pick));
  const cooldown = policy.breakerCooldownSecs;
  // The endpoints whose shared state this batch may move get their state row
  // first (idempotent): the write below then updates it against its newest
  // version. A batch of successes only (the common case) skips this.
  const moving = [
    ...new Set(
      batch.outcomes.filter((o) => o.attempted && (o.status !== "delivered" || o.probe))
        .map((o) => o.webhookId),
    ),
  ];
  if (moving.length > 0) {
    await sql`
      INSERT INTO webhook_endpoint_state (webhook_id)
      SELECT w.id FROM user_webhooks w WHERE w.id = ANY(${moving}::uuid[])
      ON CONFLICT (webhook_id) DO NOTHING`;
  }
  const recorded = await sql<
    {
      id: string | null;
      consecutive_failures: number;
      enabled: boolean;
      tripped: boolean;
      breaker: string | null;
      reopen_in_ms: number | null;
      paused_for_ms: number | null;
      exhausted: number;
    }[]
  >`
    WITH input AS (
      -- One typed array per column: Postgres reads them at a fraction of
      -- what parsing the same rows as JSON cost it. ord: the position in
      -- the batch, the order the outcomes finished in.
      SELECT * FROM unnest(
        ${column((r) => r.id)}::uuid[],
        ${column((r) => r.status)}::text[],
        ${flags((r) => r.attempted)}::bool[],
        ${column((r) => r.attempts_before)}::int[],
        ${column((r) => r.retry_delay_secs)}::int[],
        ${column((r) => r.status_code)}::int[],
        ${column((r) => r.error)}::text[],
        ${column((r) => r.duration_ms)}::int[],
        ${column((r) => r.response_body)}::text[],
        ${flags((r) => r.probe)}::bool[],
        ${flags((r) => r.gone)}::bool[],
        ${column((r) => r.pause_secs)}::int[]
      ) WITH ORDINALITY AS i(
        id, status, attempted, attempts_before, retry_delay_secs, status_code, error, duration_ms, response_body,
        probe, gone, pause_secs, ord),
        (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
    ),
    applied AS (
      UPDATE webhook_deliveries d SET
        status = CASE
          WHEN i.status = 'released' THEN d.status
          -- While a breaker with a cool-down is open, nothing is exhausted:
          -- a send that was in flight when it tripped waits for it instead.
          WHEN i.status = 'exhausted' AND i.attempted AND NOT i.gone AND EXISTS (
            SELECT 1 FROM webhook_endpoint_state s WHERE s.webhook_id = d.webhook_id
              AND s.breaker IN ('open', 'half_open') AND s.reopen_at IS NOT NULL) THEN 'failed'
          ELSE i.status END,
        attempt_count = d.attempt_count + CASE WHEN i.attempted THEN 1 ELSE 0 END,
        -- As dwctl: mark_failed sets the next attempt, or now() when it
        -- exhausts the row; mark_delivered and mark_exhausted (unsent) leave
        -- the claim's bump.
        next_attempt_at = CASE
          WHEN i.status IN ('failed', 'released') THEN now() + make_interval(secs => coalesce(i.retry_delay_secs, 0))
          WHEN i.status = 'exhausted' AND i.attempted THEN now()
          ELSE d.next_attempt_at END,
        claimed_until = NULL,
        last_status_code = CASE WHEN i.attempted THEN i.status_code ELSE d.last_status_code END,
        last_error = CASE
          WHEN i.status = 'released' THEN d.last_error
          -- dwctl's mark_delivered clears the error of an earlier attempt.
          WHEN i.status = 'delivered' THEN NULL
          ELSE i.error END
      FROM input i
      -- The attempt count guards against a stale writer: if our claim ran out
      -- and another dispatcher recorded this row since, our result is dropped.
      WHERE d.id = i.id AND d.attempt_count = i.attempts_before AND d.status IN ('pending', 'failed')
      RETURNING d.id, d.webhook_id, d.attempt_count, d.status
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
    flags AS (
      SELECT a.webhook_id,
        bool_or(i.gone) AS gone,
        bool_or(i.probe AND i.status = 'delivered') AS probe_ok,
        bool_or(i.probe AND i.status <> 'delivered') AS probe_failed,
        max(i.pause_secs) AS pause_secs
      FROM input i JOIN applied a ON a.id = i.id
      WHERE i.attempted
      GROUP BY a.webhook_id
    ),
    per_webhook AS (
      SELECT r.webhook_id,
        max(run) AS successes,
        coalesce(max(failures) FILTER (WHERE run = 0), 0) AS leading,
        coalesce(max(failures) FILTER (WHERE run > 0), 0) AS longest_later,
        (array_agg(failures ORDER BY run DESC))[1] AS trailing
      FROM runs r GROUP BY r.webhook_id
    ),
    decided AS (
      SELECT p.*, f.gone, f.probe_ok, f.probe_failed, f.pause_secs,
        (p.leading > 0 AND w.consecutive_failures + p.leading >= ${threshold}) OR p.longest_later >= ${threshold}
          AS over_threshold
      FROM per_webhook p JOIN flags f ON f.webhook_id = p.webhook_id JOIN user_webhooks w ON w.id = p.webhook_id
    ),
    webhooks AS (
      UPDATE user_webhooks w SET
        consecutive_failures = CASE WHEN p.successes > 0 THEN p.trailing ELSE w.consecutive_failures + p.leading END,
        enabled = CASE
          WHEN p.gone OR p.over_threshold THEN false
          WHEN p.probe_ok THEN true
          ELSE w.enabled END,
        disabled_at = CASE
          WHEN w.enabled AND (p.gone OR p.over_threshold) THEN now()
          WHEN p.probe_ok AND NOT (p.gone OR p.over_threshold) THEN NULL
          ELSE w.disabled_at END
      FROM decided p
      WHERE w.id = p.webhook_id
        -- An all-success batch on a healthy webhook changes nothing: skip the write.
        AND NOT (p.leading = 0 AND p.longest_later = 0 AND w.consecutive_failures = 0
          AND NOT p.gone AND NOT p.probe_ok AND w.enabled)
      RETURNING w.id, w.consecutive_failures, w.enabled, (NOT w.enabled AND w.disabled_at = now()) AS tripped
    ),
    states AS (
      -- s is the row as it is now (a claim may have made it half_open since
      -- this statement's snapshot): each change is decided against it.
      UPDATE webhook_endpoint_state s SET
        breaker = CASE
          WHEN p.gone THEN 'open'
          WHEN p.probe_failed AND s.breaker = 'half_open' THEN 'open'
          WHEN p.probe_ok AND s.breaker = 'half_open' THEN 'closed'
          WHEN p.over_threshold AND s.breaker = 'closed' THEN 'open'
          ELSE s.breaker END,
        cooldown_secs = CASE
          WHEN p.gone THEN NULL
          -- A failed probe doubles the cool-down, up to the cap.
          WHEN p.probe_failed AND s.breaker = 'half_open'
            THEN least(2 * coalesce(s.cooldown_secs, ${cooldown}::int), ${policy.breakerCooldownMaxSecs})
          WHEN p.probe_ok AND s.breaker = 'half_open' THEN NULL
          WHEN p.over_threshold AND s.breaker = 'closed' THEN ${cooldown}::int
          ELSE s.cooldown_secs END,
        reopen_at = CASE
          WHEN p.gone THEN NULL
          WHEN p.probe_failed AND s.breaker = 'half_open' THEN now() + make_interval(secs =>
            least(2 * coalesce(s.cooldown_secs, ${cooldown}::int), ${policy.breakerCooldownMaxSecs}))
          WHEN p.probe_ok AND s.breaker = 'half_open' THEN NULL
          WHEN p.over_threshold AND s.breaker = 'closed' THEN now() + make_interval(secs => ${cooldown}::int)
          ELSE s.reopen_at END,
        probe_until = CASE WHEN p.probe_ok OR p.probe_failed THEN NULL ELSE s.probe_until END,
        paused_until = CASE
          WHEN p.pause_secs > 0 THEN greatest(s.paused_until, now() + make_interval(secs => p.pause_secs))
          ELSE s.paused_until END
      FROM decided p
      WHERE s.webhook_id = p.webhook_id
        AND (p.gone OR p.probe_ok OR p.probe_failed OR p.pause_secs > 0 OR p.over_threshold)
      RETURNING s.webhook_id, s.breaker, s.reopen_at, s.paused_until
    ),
    reported AS (
      SELECT coalesce(w.id, st.webhook_id) AS id,
        coalesce(w.consecutive_failures, u.consecutive_failures) AS consecutive_failures,
        coalesce(w.enabled, u.enabled) AS enabled,
        coalesce(w.tripped, false) AS tripped,
        st.breaker,
        (extract(epoch FROM st.reopen_at - now()) * 1000)::float8 AS reopen_in_ms,
        (extract(epoch FROM st.paused_until - now()) * 1000)::float8 AS paused_for_ms
      FROM webhooks w FULL JOIN states st ON st.webhook_id = w.id
        LEFT JOIN user_webhooks u ON u.id = st.webhook_id
    )
    -- At least one row: the rows this write exhausted (not those a cool-down
    -- kept failed, nor stale ones), beside each webhook's report, if any.
    SELECT r.*, x.exhausted FROM (SELECT count(*) FILTER (WHERE status = 'exhausted')::int AS exhausted FROM applied) x
      LEFT JOIN reported r ON true`;
  const webhooks = recorded.filter((r) => r.id !== null).map((r): EndpointReport => ({
    webhookId: r.id!,
    consecutiveFailures: r.consecutive_failures,
    enabled: r.enabled,
    tripped: r.tripped,
    breaker: (r.breaker ?? (r.enabled ? "closed" : "open")) as EndpointReport["breaker"],
    reopenInMs: r.reopen_in_ms === null ? null : Math.max(0, r.reopen_in_ms),
    pausedForMs: Math.max(0, r.paused_for_ms ?? 0),
  }));
  return { webhooks, exhausted: recorded[0]?.exhausted ?? 0 };
}
