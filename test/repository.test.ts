// dwctl's repository tests, ported, against a real Postgres. The claim,
// webhooks and migrations are statehook's own. The single-row writes
// (markDelivered, markFailed, incrementFailures, …) are dwctl's, kept in
// test/support/dwctl-reference.ts: these tests hold that reference to dwctl's
// behaviour, and test/outcomes.test.ts holds statehook's batched write to the
// reference, for any batch.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { claimDue } from "../src/db/claim.ts";
import {
  createDelivery,
  createDeliveryIdempotent,
  getDelivery,
  incrementFailures,
  markDelivered,
  markExhausted,
  markFailed,
  resetFailures,
} from "./support/dwctl-reference.ts";
import { migrate } from "../src/db/migrate.ts";
import { createWebhook, deleteWebhook, getWebhook } from "../src/db/webhooks.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";

const DEFAULT_SCHEDULE = [0, 5, 300, 1800, 7200, 28800, 86400];
let db: TestDatabase;
before(async () => (db = await testDatabase()));
after(async () => await db.close());

async function webhook(url = "https://example.com/hook") {
  return (await createWebhook(db.sql, { userId: crypto.randomUUID(), url })).webhook;
}

async function delivery(webhookId: string, extra: Partial<{ status: string; next: string; attempts: number }> = {}) {
  const row = await createDelivery(db.sql, {
    webhookId,
    eventId: crypto.randomUUID(),
    eventType: "batch.completed",
    payload: { type: "batch.completed", timestamp: new Date().toISOString(), data: {} },
  });
  if (extra.status || extra.next || extra.attempts !== undefined) {
    await db.sql`UPDATE webhook_deliveries SET
      status = coalesce(${extra.status ?? null}, status),
      next_attempt_at = coalesce(${extra.next ?? null}::timestamptz, next_attempt_at),
      attempt_count = coalesce(${extra.attempts ?? null}, attempt_count)
      WHERE id = ${row.id}`;
  }
  return row.id;
}

/** Claims everything due now, so tests do not see each other's rows. */
const drain = () => claimDue(db.sql, 10_000, 300);

async function secondsUntilNextAttempt(id: string): Promise<number> {
  const [row] = await db.sql<{ s: number }[]>`
    SELECT extract(epoch FROM next_attempt_at - now())::float8 AS s FROM webhook_deliveries WHERE id = ${id}`;
  return row.s;
}

test("claim picks up due rows with the webhook's url, secret and state", async () => {
  await drain();
  const w = await webhook();
  const id = await delivery(w.id);
  const claimed = await drain();
  const row = claimed.find((r) => r.id === id);
  assert.ok(row);
  assert.equal(row.url, "https://example.com/hook");
  assert.match(row.secret ?? "", /^whsec_/);
  assert.equal(row.webhookEnabled, true);
  assert.equal(row.attemptCount, 0);
  assert.deepEqual(Object.keys(JSON.parse(row.payload)).sort(), ["data", "timestamp", "type"]);
});

test("claim skips future, delivered and exhausted rows", async () => {
  await drain();
  const w = await webhook();
  const future = await delivery(w.id, { next: new Date(Date.now() + 3600_000).toISOString() });
  const delivered = await delivery(w.id, { status: "delivered" });
  const exhausted = await delivery(w.id, { status: "exhausted" });
  const failedDue = await delivery(w.id, { status: "failed", attempts: 1 });
  const ids = (await drain()).map((r) => r.id);
  assert.ok(!ids.includes(future));
  assert.ok(!ids.includes(delivered));
  assert.ok(!ids.includes(exhausted));
  assert.ok(ids.includes(failedDue));
});

test("claim bumps next_attempt_at by the claim timeout and a second claim gets nothing", async () => {
  await drain();
  const w = await webhook();
  const id = await delivery(w.id);
  const first = await claimDue(db.sql, 10, 120);
  assert.deepEqual(first.map((r) => r.id), [id]);
  const wait = await secondsUntilNextAttempt(id);
  assert.ok(wait > 115 && wait <= 120, `next attempt in ${wait}s`);
  assert.deepEqual(await claimDue(db.sql, 10, 120), []);
});

test("claim takes at most the limit", async () => {
  await drain();
  const w = await webhook();
  for (let i = 0; i < 5; i++) await delivery(w.id);
  assert.equal((await claimDue(db.sql, 3, 300)).length, 3);
  assert.equal((await claimDue(db.sql, 3, 300)).length, 2);
});

test("mark_failed follows the schedule: about 5 s, then about 300 s", async () => {
  const w = await webhook();
  const id = await delivery(w.id);
  await markFailed(db.sql, id, 500, "HTTP 500", 0, DEFAULT_SCHEDULE);
  let row = await getDelivery(db.sql, id);
  assert.equal(row?.status, "failed");
  assert.equal(row?.attempt_count, 1);
  assert.equal(row?.last_status_code, 500);
  assert.equal(row?.last_error, "HTTP 500");
  let wait = await secondsUntilNextAttempt(id);
  assert.ok(wait > 3 && wait <= 5, `first retry in ${wait}s`);
  await markFailed(db.sql, id, null, "connection refused", 1, DEFAULT_SCHEDULE);
  row = await getDelivery(db.sql, id);
  assert.equal(row?.attempt_count, 2);
  assert.equal(row?.last_status_code, null);
  wait = await secondsUntilNextAttempt(id);
  assert.ok(wait > 298 && wait <= 300, `second retry in ${wait}s`);
});

test("exhausts at 7 attempts with the default schedule", async () => {
  const w = await webhook();
  const id = await delivery(w.id);
  for (let i = 1; i <= 7; i++) {
    await markFailed(db.sql, id, 503, "HTTP 503", i - 1, DEFAULT_SCHEDULE);
    const row = await getDelivery(db.sql, id);
    assert.equal(row?.attempt_count, i);
    assert.equal(row?.status, i < 7 ? "failed" : "exhausted");
  }
});

test("exhausts at 3 attempts with the schedule [0,5,300]: the full lifecycle", async () => {
  const w = await webhook();
  const id = await delivery(w.id);
  const statuses: string[] = [];
  for (let i = 0; i < 3; i++) {
    await markFailed(db.sql, id, 500, "HTTP 500", i, [0, 5, 300]);
    statuses.push((await getDelivery(db.sql, id))!.status);
  }
  assert.deepEqual(statuses, ["failed", "failed", "exhausted"]);
  assert.equal((await getDelivery(db.sql, id))?.attempt_count, 3);
});

test("a delivered row after two failures keeps its attempt count and clears the last error", async () => {
  const w = await webhook();
  const id = await delivery(w.id);
  await markFailed(db.sql, id, 503, "HTTP 503", 0, [0, 5, 300]);
  await markFailed(db.sql, id, 503, "HTTP 503", 1, [0, 5, 300]);
  await markDelivered(db.sql, id, 204);
  const row = await getDelivery(db.sql, id);
  assert.equal(row?.status, "delivered");
  assert.equal(row?.attempt_count, 3);
  assert.equal(row?.last_status_code, 204);
  assert.equal(row?.last_error, null);
});

test("exhausted is terminal", async () => {
  const w = await webhook();
  const id = await delivery(w.id);
  await markExhausted(db.sql, id);
  const row = await getDelivery(db.sql, id);
  assert.equal(row?.status, "exhausted");
  assert.equal(row?.last_error, "webhook disabled");
  assert.equal(row?.attempt_count, 0);
  await db.sql`UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = ${id}`;
  assert.ok(!(await drain()).some((r) => r.id === id));
});

test("a success resets the failure counter", async () => {
  const w = await webhook();
  for (let i = 1; i <= 3; i++) assert.equal((await incrementFailures(db.sql, w.id, 10))?.consecutiveFailures, i);
  await resetFailures(db.sql, w.id);
  assert.equal((await incrementFailures(db.sql, w.id, 10))?.consecutiveFailures, 1);
});

test("the breaker disables the webhook at the threshold", async () => {
  const w = await webhook();
  const states = [];
  for (let i = 0; i < 4; i++) states.push(await incrementFailures(db.sql, w.id, 3));
  assert.deepEqual(states.map((s) => s?.enabled), [true, true, false, false]);
  assert.deepEqual(states.map((s) => s?.disabledAt !== null), [false, false, true, true]);
  const view = await getWebhook(db.sql, w.user_id, w.id);
  assert.equal(view?.enabled, false);
  assert.ok(view?.disabled_at instanceof Date);
});

test("increment returns nothing for a deleted webhook", async () => {
  const w = await webhook();
  assert.ok(await deleteWebhook(db.sql, w.user_id, w.id));
  assert.equal(await incrementFailures(db.sql, w.id, 10), undefined);
});

test("deleting a webhook cascades to its deliveries", async () => {
  const w = await webhook();
  const id = await delivery(w.id);
  await deleteWebhook(db.sql, w.user_id, w.id);
  assert.equal(await getDelivery(db.sql, id), undefined);
});

test("idempotent create makes one delivery per (webhook, event type, resource)", async () => {
  const w = await webhook();
  const resourceId = crypto.randomUUID();
  const event = { webhookId: w.id, eventType: "batch.completed", payload: {}, resourceId };
  const first = await createDeliveryIdempotent(db.sql, { ...event, eventId: crypto.randomUUID() });
  const second = await createDeliveryIdempotent(db.sql, { ...event, eventId: crypto.randomUUID() });
  assert.ok(first);
  assert.equal(second, undefined);
  const other = await createDeliveryIdempotent(db.sql, {
    ...event,
    eventType: "batch.failed",
    eventId: crypto.randomUUID(),
  });
  assert.ok(other);
  const withoutResource = { ...event, resourceId: null };
  assert.ok(await createDeliveryIdempotent(db.sql, { ...withoutResource, eventId: crypto.randomUUID() }));
  assert.ok(await createDeliveryIdempotent(db.sql, { ...withoutResource, eventId: crypto.randomUUID() }));
});

test("migrations run once when three replicas start together", async () => {
  // From an empty database, as three replicas would find it on their first start.
  await db.sql`DROP TABLE webhook_delivery_attempts, webhook_deliveries, user_webhooks, statehook_migrations,
    webhook_endpoint_state CASCADE`;
  const results = await Promise.all([migrate(db.sql), migrate(db.sql), migrate(db.sql)]);
  assert.deepEqual(results.map((r) => r.join(",")).sort(), ["", "", "1,2,3,4,5,6,7,8"]);
  assert.deepEqual(await migrate(db.sql), [], "a later start has nothing to do");
  const [{ count }] = await db.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM statehook_migrations`;
  assert.equal(count, 8);
});

test("the attempt log's created_at is indexed by BRIN (append-only, read by retention), not a B-tree", async () => {
  const indexes = await db.sql<{ name: string; method: string }[]>`
    SELECT c.relname AS name, am.amname AS method
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = 'webhook_delivery_attempts'::regclass AND a.attname = 'created_at'`;
  assert.deepEqual(indexes.map((i) => i.method), ["brin"]);
});

test("a deleted webhook takes its deliveries' attempt log with it, and so does a deleted delivery; nothing else goes", async () => {
  const [gone, kept] = [await webhook(), await webhook()];
  const attempts = async (webhookId: string) =>
    (await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_delivery_attempts WHERE webhook_id = ${webhookId}`)[0].n;
  const attempted = async (webhookId: string) => {
    const id = await delivery(webhookId);
    await db.sql`
      INSERT INTO webhook_delivery_attempts (delivery_id, webhook_id, attempt_number, outcome)
      VALUES (${id}, ${webhookId}, 1, 'failed'), (${id}, ${webhookId}, 2, 'delivered')`;
    return id;
  };
  await attempted(gone.id);
  await attempted(gone.id);
  const keptDelivery = await attempted(kept.id);
  const alsoKept = await attempted(kept.id);
  assert.equal(await deleteWebhook(db.sql, gone.user_id, gone.id), true);
  assert.equal(await attempts(gone.id), 0, "the cascade from the webhook reached the attempt log");
  assert.equal(await attempts(kept.id), 4);
  await db.sql`DELETE FROM webhook_deliveries WHERE id = ${keptDelivery}`;
  const left = await db.sql<{ delivery_id: string }[]>`
    SELECT DISTINCT delivery_id FROM webhook_delivery_attempts WHERE webhook_id = ${kept.id}`;
  assert.deepEqual(left.map((r) => r.delivery_id), [alsoKept]);
});

test("concurrent claims never hand out the same row twice", async () => {
  await drain();
  const w = await webhook();
  for (let i = 0; i < 60; i++) await delivery(w.id);
  const claims = await Promise.all(Array.from({ length: 6 }, () => claimDue(db.sql, 15, 300)));
  const ids = claims.flat().map((r) => r.id);
  assert.equal(ids.length, 60);
  assert.equal(new Set(ids).size, 60);
});

test("a claim counts an endpoint's rows in flight without visiting its history", async () => {
  await drain();
  const hooks = await Promise.all(Array.from({ length: 5 }, () => webhook()));
  // A long history per endpoint (delivered rows), and one due row each.
  for (const w of hooks) {
    await db.sql`
      INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, status, attempt_count)
      SELECT ${w.id}, gen_random_uuid(), 'history', '{}'::jsonb, 'delivered', 1 FROM generate_series(1, 4000)`;
    await delivery(w.id);
  }
  // Statistics taken while many rows were in flight, as autovacuum may take them mid-run.
  await db.sql`UPDATE webhook_deliveries SET claimed_until = now() + interval '5 minutes' WHERE event_type = 'history'`;
  await db.sql`ANALYZE webhook_deliveries`;
  await db.sql`UPDATE webhook_deliveries SET claimed_until = NULL WHERE event_type = 'history'`;
  const fetched = await db.sql.begin(async (tx) => {
    const read = async () => {
      const [r] = await tx<{ n: string }[]>`
        SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) AS n
        FROM pg_stat_xact_user_tables WHERE relname = 'webhook_deliveries'`;
      return Number(r.n);
    };
    const before = await read();
    const rows = await claimDue(tx as unknown as typeof db.sql, 10, 300, { maxInFlightPerWebhook: 20 });
    assert.equal(rows.length, hooks.length);
    return (await read()) - before;
  });
  assert.ok(fetched < 1000, `the claim read ${fetched} rows of webhook_deliveries for ${hooks.length} due ones`);
});
