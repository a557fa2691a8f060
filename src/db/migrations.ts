// The schema, as an ordered list of migrations. The first one is dwctl's
// webhook schema (its migrations 064, 086/084 and 087) written to be
// re-runnable over a database dwctl already migrated, so statehook can be
// pointed at a dwctl database as a drop-in dispatcher.

export type Migration = { version: number; name: string; sql: string };

export const DELIVERY_CHANNEL = "statehook_deliveries";
/** Set to 'off' for a transaction whose inserted deliveries should not NOTIFY (migration 4). */
export const QUIET_SETTING = "statehook.notify";

export const migrations: Migration[] = [
  {
    version: 1,
    name: "dwctl webhook schema",
    sql: `
      CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger AS $$
      BEGIN
        NEW.updated_at = now();
        RETURN NEW;
      END;
      $$ LANGUAGE plpgsql;

      CREATE TABLE IF NOT EXISTS user_webhooks (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        enabled BOOLEAN NOT NULL DEFAULT true,
        event_types JSONB DEFAULT NULL,
        description TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        consecutive_failures INT NOT NULL DEFAULT 0,
        disabled_at TIMESTAMPTZ DEFAULT NULL,
        scope TEXT NOT NULL DEFAULT 'own' CHECK (scope IN ('own', 'platform'))
      );
      CREATE INDEX IF NOT EXISTS idx_user_webhooks_user_id ON user_webhooks(user_id);
      CREATE INDEX IF NOT EXISTS idx_user_webhooks_enabled ON user_webhooks(user_id, enabled) WHERE enabled = true;
      CREATE INDEX IF NOT EXISTS idx_user_webhooks_platform ON user_webhooks (scope)
        WHERE scope = 'platform' AND enabled = true;

      CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        webhook_id UUID NOT NULL REFERENCES user_webhooks(id) ON DELETE CASCADE,
        event_id UUID NOT NULL,
        event_type TEXT NOT NULL,
        payload JSONB NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempt_count INT NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        resource_id UUID,
        last_status_code INT,
        last_error TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_pending ON webhook_deliveries(next_attempt_at)
        WHERE status IN ('pending', 'failed');
      CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_webhook_id ON webhook_deliveries(webhook_id);
      CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_resource_id ON webhook_deliveries(resource_id);
      CREATE UNIQUE INDEX IF NOT EXISTS idx_webhook_deliveries_unique_event
        ON webhook_deliveries (webhook_id, event_type, resource_id)
        WHERE resource_id IS NOT NULL;

      CREATE OR REPLACE TRIGGER user_webhooks_updated_at
        BEFORE UPDATE ON user_webhooks
        FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
      CREATE OR REPLACE TRIGGER webhook_deliveries_updated_at
        BEFORE UPDATE ON webhook_deliveries
        FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
    `,
  },
  {
    version: 2,
    name: "notify the dispatcher of new deliveries",
    // One NOTIFY per statement, not per row: a fan-out insert of thousands of
    // rows wakes the dispatcher once, and it claims what is due anyway.
    sql: `
      CREATE OR REPLACE FUNCTION statehook_notify_deliveries() RETURNS trigger AS $$
      BEGIN
        PERFORM pg_notify('${DELIVERY_CHANNEL}', '');
        RETURN NULL;
      END;
      $$ LANGUAGE plpgsql;

      CREATE OR REPLACE TRIGGER statehook_deliveries_notify
        AFTER INSERT ON webhook_deliveries
        FOR EACH STATEMENT EXECUTE FUNCTION statehook_notify_deliveries();
    `,
  },
  {
    version: 3,
    name: "attempt log",
    sql: `
      CREATE TABLE IF NOT EXISTS webhook_delivery_attempts (
        id BIGSERIAL PRIMARY KEY,
        delivery_id UUID NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
        webhook_id UUID NOT NULL,
        attempt_number INT NOT NULL,
        outcome TEXT NOT NULL,
        status_code INT,
        error TEXT,
        duration_ms INT,
        response_body TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX IF NOT EXISTS idx_webhook_delivery_attempts_delivery
        ON webhook_delivery_attempts(delivery_id, attempt_number);
      CREATE INDEX IF NOT EXISTS idx_webhook_delivery_attempts_created_at
        ON webhook_delivery_attempts(created_at);
    `,
  },
  {
    version: 4,
    name: "publishes through the API wake their own dispatcher, not every listener",
    // A transaction that NOTIFYs commits under a lock every other notifying
    // transaction waits for, one fsync at a time: a NOTIFY per publish capped
    // publishing (BENCHMARKS.md, "What changed", 6). The API sets statehook.notify = off for its insert and wakes the dispatcher
    // in its own process; rows written any other way still NOTIFY.
    sql: `
      CREATE OR REPLACE FUNCTION statehook_notify_deliveries() RETURNS trigger AS $$
      BEGIN
        IF coalesce(current_setting('${QUIET_SETTING}', true), '') <> 'off' THEN
          PERFORM pg_notify('${DELIVERY_CHANNEL}', '');
        END IF;
        RETURN NULL;
      END;
      $$ LANGUAGE plpgsql;
    `,
  },
  {
    version: 5,
    name: "the attempt log by webhook, newest last",
    // The webhook listing's last_attempt_at and last_status_code: a
    // backward scan of this index finds a webhook's newest attempt at once.
    // The attempt log is insert-only, so this costs one index entry per
    // attempt and nothing on the deliveries table's updates.
    sql: `
      CREATE INDEX IF NOT EXISTS idx_webhook_delivery_attempts_webhook
        ON webhook_delivery_attempts(webhook_id, id);
    `,
  },
  {
    version: 6,
    name: "per-endpoint delivery policy",
    // Additive only, so dwctl still runs on the schema: two nullable settings
    // on user_webhooks, a lease marker on webhook_deliveries that only
    // statehook writes, and a table of statehook's own for what replicas
    // share about an endpoint (breaker, pause, token bucket, the secret a
    // rotation keeps for its grace period).
    sql: `
      ALTER TABLE user_webhooks ADD COLUMN IF NOT EXISTS rate_limit INT
        CHECK (rate_limit IS NULL OR rate_limit BETWEEN 1 AND 10000);
      ALTER TABLE user_webhooks ADD COLUMN IF NOT EXISTS max_in_flight INT
        CHECK (max_in_flight IS NULL OR max_in_flight >= 1);
      ALTER TABLE webhook_deliveries ADD COLUMN IF NOT EXISTS claimed_until TIMESTAMPTZ;
      CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_claimed ON webhook_deliveries (webhook_id)
        WHERE claimed_until IS NOT NULL;
      CREATE TABLE IF NOT EXISTS webhook_endpoint_state (
        webhook_id UUID PRIMARY KEY REFERENCES user_webhooks(id) ON DELETE CASCADE,
        breaker TEXT NOT NULL DEFAULT 'closed' CHECK (breaker IN ('closed', 'open', 'half_open')),
        -- When an open breaker lets a probe through; NULL: only a re-enable closes it (dwctl).
        reopen_at TIMESTAMPTZ,
        cooldown_secs INT,
        -- The lease of the one probe in flight (half_open).
        probe_until TIMESTAMPTZ,
        paused_until TIMESTAMPTZ,
        -- The rate limit's token bucket: tokens left at refilled_at (NULL: full).
        tokens DOUBLE PRECISION NOT NULL DEFAULT 0,
        refilled_at TIMESTAMPTZ,
        previous_secret TEXT,
        previous_secret_until TIMESTAMPTZ
      );
    `,
  },
  {
    version: 7,
    name: "the attempt log's created_at in a BRIN index",
    // The attempt log is append-only and only retention reads it by time, so
    // created_at follows the physical order: a BRIN index (one summary per
    // 128 pages) serves retention's range scan, where the B-tree took an
    // entry, and its share of the insert's work, for every attempt
    // (BENCHMARKS.md, "Postgres CPU per delivery").
    sql: `
      CREATE INDEX IF NOT EXISTS idx_webhook_delivery_attempts_created_at_brin
        ON webhook_delivery_attempts USING brin (created_at);
      DROP INDEX IF EXISTS idx_webhook_delivery_attempts_created_at;
    `,
  },
  {
    version: 8,
    name: "the attempt log follows its deliveries without a per-insert key check",
    // The foreign key made every attempt-log insert run a referential check
    // (a query and a row lock on the delivery, per attempt): 8% of Postgres's
    // CPU in a claim-and-write loop, for rows the same statement has just
    // updated (BENCHMARKS.md, "Postgres CPU per delivery"). What the key did
    // that matters, deleting a delivery's attempts with it (a deleted
    // webhook cascades to its deliveries), a statement trigger does, once
    // per DELETE, cascades included.
    sql: `
      ALTER TABLE webhook_delivery_attempts DROP CONSTRAINT IF EXISTS webhook_delivery_attempts_delivery_id_fkey;
      CREATE OR REPLACE FUNCTION statehook_delete_attempts() RETURNS trigger AS $$
      BEGIN
        DELETE FROM webhook_delivery_attempts a USING gone g WHERE a.delivery_id = g.id;
        RETURN NULL;
      END;
      $$ LANGUAGE plpgsql;
      CREATE OR REPLACE TRIGGER statehook_deliveries_delete_attempts
        AFTER DELETE ON webhook_deliveries REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION statehook_delete_attempts();
    `,
  },
];
