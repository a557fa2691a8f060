// The dispatcher's claim: due rows, locked with SKIP LOCKED so replicas never
// share one, leased by pushing next_attempt_at out, joined to their webhook.
// It is also where replicas agree on each endpoint's policy: an endpoint is
// claimed only while it is not paused, its breaker lets it through (closed,
// or one probe once the cool-down is over), and within its in-flight cap and
// rate limit. Those budgets are counted under a per-endpoint lock, so three
// replicas together keep them, not each one.
import type { Sql, TransactionSql } from "postgres";
import type { ClaimedDelivery } from "../../machines/delivery.ts";

/** A claimed row as the dispatcher sees it, plus the webhook's secrets, which never enter an actor. */
export type ClaimedRow = ClaimedDelivery & {
  secret: string | null;
  /** The secret a rotation replaced, while its grace period lasts: it signs too. */
  previousSecret: string | null;
};

export type ClaimPolicy = {
  /** max_in_flight of a webhook that has none of its own. */
  maxInFlightPerWebhook: number;
};

/** No cap: what callers that are not the dispatcher (the bench, tests) get. */
const UNCAPPED: ClaimPolicy = { maxInFlightPerWebhook: 1_000_000 };
const UNLIMITED = 1_000_000;
// The advisory-lock class of per-endpoint budgets ("sh" in ASCII); the key is the webhook id's hash.
const BUDGET_LOCK_CLASS = 0x7368;

/**
 * Claims up to `limit` due rows. SKIP LOCKED lets replicas claim side by
 * side; pushing next_attempt_at out by the claim timeout is the crash-safety
 * net: a claim whose owner died becomes due again by itself (claimed_until,
 * the same time, marks the row in flight for the endpoint's cap).
 *
 * Three statements in one transaction: (1) lock due candidates of endpoints
 * that may be sent to; (2) take the budget lock of each endpoint among them,
 * in one order, so concurrent claims queue per endpoint; (3) with a snapshot
 * taken after those locks, count each endpoint's budget (in flight, tokens,
 * probe) and claim only what it allows. Candidates left over stay due.
 *
 * The claim commits without waiting for its WAL flush (synchronous_commit
 * off, this transaction only). Other sessions see it at once; only a
 * Postgres crash in the next fraction of a second could undo it, and an
 * undone claim is a due row again: sent once more, never lost. Waiting in
 * line for the fsync behind every publish made claims slow under publishing
 * load (BENCHMARKS.md, "What changed", 8).
 */
export async function claimDue(sql: Sql, limit: number, claimTimeoutSecs: number, policy = UNCAPPED) {
  if (limit <= 0) return [];
  // Inside a caller's transaction (the benchmark's rolled-back claims, a
  // test's counters) the claim is a savepoint of it.
  const transaction = "savepoint" in sql
    ? (sql as unknown as TransactionSql).savepoint.bind(sql)
    : sql.begin.bind(sql) as unknown as TransactionSql["savepoint"];
  return await transaction(async (tx): Promise<ClaimedRow[]> => {
    // Rows in flight are counted from the partial index of claimed rows,
    // whatever the statistics say: taken while thousands were in flight,
    // they made a scan of the whole table look cheaper, on every claim.
    // Statements that need no answer from the one before them are sent
    // together (postgres.js pipelines a transaction's queries): this
    // transaction's settings with statement 1, statement 2 with statement 3
    // (Postgres runs them in order, so 3's snapshot still follows 2's locks).
    // Four round trips instead of six: a 5-row claim 1.1–1.6 ms instead of
    // 1.3–2.0 (p50, both runtimes).
    const [, candidates] = await Promise.all([
      tx`SELECT set_config('synchronous_commit', 'off', true), set_config('enable_seqscan', 'off', true)`,
      tx<{ id: string; webhook_id: string; due: string }[]>`
      WITH busy AS (
        -- Endpoints at their in-flight cap: skipped here, so their backlog
        -- does not fill the candidates of every claim.
        SELECT f.webhook_id FROM webhook_deliveries f JOIN user_webhooks w ON w.id = f.webhook_id
        WHERE f.claimed_until > now()
        GROUP BY f.webhook_id, w.max_in_flight
        HAVING count(*) >= coalesce(w.max_in_flight, ${policy.maxInFlightPerWebhook})
      ),
      held AS (
        SELECT s.webhook_id FROM webhook_endpoint_state s LEFT JOIN user_webhooks w ON w.id = s.webhook_id
        WHERE s.paused_until > now()
          OR (s.breaker = 'open' AND s.reopen_at > now())
          OR (s.breaker = 'half_open' AND s.probe_until > now())
          OR (w.rate_limit IS NOT NULL AND s.refilled_at IS NOT NULL
            AND s.tokens + w.rate_limit * extract(epoch FROM now() - s.refilled_at) < 1)
      )
      SELECT d.id, d.webhook_id, d.next_attempt_at::text AS due FROM webhook_deliveries d
      WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
        AND d.webhook_id NOT IN (SELECT webhook_id FROM busy UNION ALL SELECT webhook_id FROM held)
      ORDER BY d.next_attempt_at
      LIMIT ${limit}
      FOR UPDATE OF d SKIP LOCKED`,
    ]);
    if (candidates.length === 0) return [];
    const webhookIds = [...new Set(candidates.map((c) => c.webhook_id))];
    const [, claimed] = await Promise.all([
      tx`
      SELECT pg_advisory_xact_lock(${BUDGET_LOCK_CLASS}, k)
      FROM (SELECT DISTINCT hashtext(id) AS k FROM unnest(${webhookIds}::text[]) AS id ORDER BY 1) keys`,
      tx<ClaimedRow[]>`
      WITH cand AS (
        SELECT * FROM unnest(${candidates.map((c) => c.id)}::uuid[], ${candidates.map((c) => c.webhook_id)}::uuid[], ${
        candidates.map((c) => c.due)
      }::timestamptz[]) AS c(id, webhook_id, due)
      ),
      flying AS (
        -- Rows in flight per endpoint, from the partial index of claimed rows
        -- (only those): counted per endpoint inside the join, the planner
        -- took the index of every row of the webhook instead and visited the
        -- endpoint's whole history on every claim, twice.
        SELECT f.webhook_id, count(*) AS n FROM webhook_deliveries f
        WHERE f.claimed_until IS NOT NULL AND f.claimed_until > statement_timestamp()
        GROUP BY f.webhook_id
      ),
      hooks AS (
        SELECT w.id AS webhook_id, w.enabled, w.rate_limit,
          coalesce(w.max_in_flight, ${policy.maxInFlightPerWebhook}) AS max_in_flight,
          coalesce(s.breaker, 'closed') AS breaker, s.reopen_at, s.probe_until, s.paused_until,
          CASE WHEN s.refilled_at IS NULL THEN w.rate_limit
            ELSE least(w.rate_limit, s.tokens + w.rate_limit * extract(epoch FROM statement_timestamp() - s.refilled_at))
          END AS tokens,
          coalesce(fl.n, 0) AS flying
        FROM user_webhooks w LEFT JOIN webhook_endpoint_state s ON s.webhook_id = w.id
          LEFT JOIN flying fl ON fl.webhook_id = w.id
        WHERE w.id IN (SELECT webhook_id FROM cand)
      ),
      budget AS (
        SELECT h.*,
          (h.breaker = 'open' AND h.reopen_at <= statement_timestamp())
            OR (h.breaker = 'half_open' AND h.probe_until <= statement_timestamp()) AS probe,
          CASE
            WHEN h.paused_until > statement_timestamp() THEN 0
            WHEN h.breaker = 'half_open' AND h.probe_until > statement_timestamp() THEN 0
            WHEN h.breaker = 'open' AND h.reopen_at > statement_timestamp() THEN 0
            -- Cool-down over (or the last probe's lease ran out): one probe.
            WHEN h.breaker IN ('open', 'half_open') AND h.reopen_at IS NOT NULL THEN 1
            -- Disabled (dwctl's breaker, or a user): claimed to be exhausted unsent.
            WHEN NOT h.enabled THEN ${UNLIMITED}
            ELSE greatest(0, least(h.max_in_flight - h.flying, coalesce(floor(h.tokens), ${UNLIMITED})))
          END AS allowed
        FROM hooks h
      ),
      granted AS (
        SELECT c.id, c.webhook_id, coalesce(b.probe, false) AS probe
        FROM (SELECT c.*, row_number() OVER (PARTITION BY c.webhook_id ORDER BY c.due, c.id) AS rn FROM cand c) c
        LEFT JOIN budget b ON b.webhook_id = c.webhook_id
        WHERE c.rn <= coalesce(b.allowed, ${UNLIMITED})
      ),
      spent AS (
        INSERT INTO webhook_endpoint_state AS s (webhook_id, breaker, probe_until, tokens, refilled_at)
        SELECT b.webhook_id,
          CASE WHEN b.probe THEN 'half_open' ELSE b.breaker END,
          CASE WHEN b.probe THEN now() + make_interval(secs => ${claimTimeoutSecs}) END,
          coalesce(b.tokens - g.n, 0),
          CASE WHEN b.rate_limit IS NOT NULL THEN statement_timestamp() END
        FROM budget b JOIN (SELECT webhook_id, count(*) AS n FROM granted GROUP BY webhook_id) g
          ON g.webhook_id = b.webhook_id
        WHERE b.probe OR (b.rate_limit IS NOT NULL AND b.enabled)
        ON CONFLICT (webhook_id) DO UPDATE SET
          breaker = CASE WHEN EXCLUDED.breaker = 'half_open' THEN 'half_open' ELSE s.breaker END,
          probe_until = CASE WHEN EXCLUDED.breaker = 'half_open' THEN EXCLUDED.probe_until ELSE s.probe_until END,
          tokens = CASE WHEN EXCLUDED.refilled_at IS NOT NULL THEN EXCLUDED.tokens ELSE s.tokens END,
          refilled_at = coalesce(EXCLUDED.refilled_at, s.refilled_at)
      ),
      claimed AS (
        UPDATE webhook_deliveries d
        SET next_attempt_at = now() + make_interval(secs => ${claimTimeoutSecs}),
          claimed_until = now() + make_interval(secs => ${claimTimeoutSecs})
        -- = ANY(ARRAY(…)) looks the granted ids up by primary key: a join
        -- with the CTE let the planner hash-join it against a scan of the
        -- whole table once the table was large or its statistics stale (a
        -- 200,000-row backlog was claimed at a quarter of the rate).
        WHERE d.id = ANY(ARRAY(SELECT id FROM granted))
        RETURNING d.id, d.webhook_id, d.event_id, d.event_type, d.payload::text AS payload, d.attempt_count,
          d.id IN (SELECT id FROM granted WHERE probe) AS probe
      )
      SELECT c.id, c.webhook_id AS "webhookId", c.event_id AS "eventId", c.event_type AS "eventType", c.payload,
        c.attempt_count AS "attemptCount", w.url, w.secret,
        CASE WHEN s.previous_secret_until > now() THEN s.previous_secret END AS "previousSecret",
        -- The probe goes out although the webhook stays disabled (for dwctl) until it succeeds.
        (coalesce(w.enabled, false) OR c.probe) AS "webhookEnabled",
        coalesce(w.consecutive_failures, 0) AS "consecutiveFailures", c.probe
      FROM claimed c LEFT JOIN user_webhooks w ON w.id = c.webhook_id
        LEFT JOIN webhook_endpoint_state s ON s.webhook_id = c.webhook_id`,
    ]);
    return claimed;
  });
}
