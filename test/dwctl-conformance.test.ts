// dwctl's own delivery tests (the test module of dwctl/src/db/handlers/
// webhooks.rs), ported to statehook's real path: the dispatcher claims, a
// delivery actor sends to a real receiver, the batched writer records. Each
// test bears the name of the dwctl test it ports; where the dispatcher would
// hide a claim's result, claimDue is asked directly as well.
//
// Time is driven, never waited for: a row is made due by moving its
// next_attempt_at into the past (dwctl's time_travel_delivery), and each
// attempt is one dispatcher run, stopped once its result is recorded (one
// dwctl tick), so nothing is claimed between a test's steps but what it
// makes due.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { claimDue } from "../src/db/claim.ts";
import { createWebhook, deleteWebhook, updateWebhook } from "../src/db/webhooks.ts";
import { loadConfig } from "../src/start/config.ts";
import { type Dispatcher, startDispatcher } from "../src/start/dispatcher-actor.ts";
import { createMetrics } from "../src/start/metrics.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { createDelivery } from "./support/dwctl-reference.ts";
import { type Handler, type Receiver, respond, startReceiver } from "./support/receiver.ts";
import { until } from "./support/service.ts";

/** dwctl's default retry schedule, and its short one for lifecycle tests. */
const SCHEDULE_7 = "0,5,300,1800,7200,28800,86400";
const SCHEDULE_3 = "0,5,300";
/** dwctl's claim bumps next_attempt_at by five minutes; statehook's default claim timeout is the same. */
const CLAIM_TIMEOUT_SECS = 300;

let db: TestDatabase;
let receiver: Receiver;
before(async () => {
  db = await testDatabase();
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
  await db.close();
});

/** A webhook at the receiver, deleted (with its deliveries) when the test ends. */
async function createTestWebhook(t: { after(fn: () => Promise<void>): void }) {
  const { webhook } = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/hook` });
  t.after(async () => {
    await deleteWebhook(db.sql, webhook.user_id, webhook.id);
  });
  return webhook;
}

async function createTestDelivery(webhookId: string, nextAttemptAt?: Date) {
  return await createDelivery(db.sql, {
    webhookId,
    eventId: crypto.randomUUID(),
    eventType: "batch.completed",
    payload: { type: "batch.completed", data: {} },
    resourceId: crypto.randomUUID(),
    nextAttemptAt,
  });
}

async function timeTravelDelivery(id: string) {
  await db.sql`UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = ${id}`;
}

type Delivery = {
  status: string;
  attempt_count: number;
  last_status_code: number | null;
  last_error: string | null;
  /** Seconds from now to next_attempt_at. */
  wait: number;
};

async function getDelivery(id: string): Promise<Delivery> {
  const [row] = await db.sql<Delivery[]>`
    SELECT status, attempt_count, last_status_code, last_error,
      extract(epoch FROM next_attempt_at - now())::float8 AS wait
    FROM webhook_deliveries WHERE id = ${id}`;
  return row;
}

async function consecutiveFailures(webhookId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    SELECT consecutive_failures AS n FROM user_webhooks WHERE id = ${webhookId}`;
  return row.n;
}

/**
 * One dispatcher run with the receiver answering through `handler`: it ends
 * once `done` holds (checked against the database) and the dispatcher has
 * stopped, and returns how many rows it claimed.
 */
async function dispatcherRun(
  schedule: string,
  handler: Handler,
  done: (dispatcher: Dispatcher) => Promise<boolean> | boolean,
): Promise<number> {
  receiver.setHandler(handler);
  const metrics = createMetrics();
  const config = loadConfig({
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_POLL_INTERVAL_MS: "50",
    STATEHOOK_TIMEOUT_SECS: "5",
    STATEHOOK_RETRY_SCHEDULE: schedule,
    // dwctl's exact schedule: statehook's default spreads each delay by ±20%.
    STATEHOOK_RETRY_JITTER: "0",
    STATEHOOK_CLAIM_TIMEOUT_SECS: String(CLAIM_TIMEOUT_SECS),
  });
  const dispatcher = await startDispatcher({ sql: db.sql, config, metrics });
  try {
    await until(() => done(dispatcher), 15_000, "the dispatcher run's result");
  } finally {
    await dispatcher.stop();
  }
  return (await metrics.claimed.get()).values[0]?.value ?? 0;
}

/** Runs the dispatcher until its attempt on `id` is recorded: the row's attempt count has reached `attempts`. */
const attemptRun = (schedule: string, handler: Handler, id: string, attempts: number) =>
  dispatcherRun(schedule, handler, async () => (await getDelivery(id)).attempt_count >= attempts);

/** Runs the dispatcher until it has finished a claim and nothing is in flight; returns how many rows it claimed. */
const idleRun = (schedule = SCHEDULE_7) =>
  dispatcherRun(schedule, respond(200, "ok"), (dispatcher) => {
    const snapshot = dispatcher.actor.getSnapshot();
    return snapshot.matches({ intake: "idle" }) && !snapshot.context.moreDue && snapshot.context.inFlight === 0;
  });

/** Nothing is claimed: neither a claim of its own nor a dispatcher run finds a due row. */
async function assertNothingClaimed(schedule = SCHEDULE_7) {
  assert.equal((await claimDue(db.sql, 10, CLAIM_TIMEOUT_SECS)).length, 0);
  assert.equal(await idleRun(schedule), 0);
}

/** Requests the receiver got for this delivery (its webhook-id is the event id). */
const requestsFor = (eventId: string) => receiver.received.filter((r) => r.headers["webhook-id"] === eventId);

test("test_claim_picks_up_due_deliveries", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id);
  assert.equal(delivery.status, "pending");

  const claimed = await claimDue(db.sql, 10, CLAIM_TIMEOUT_SECS);
  assert.equal(claimed.length, 1);
  assert.equal(claimed[0].id, delivery.id);

  // The dispatcher's claim takes the same row, sends it and records it.
  await timeTravelDelivery(delivery.id);
  assert.equal(await attemptRun(SCHEDULE_7, respond(200, "ok"), delivery.id, 1), 1);
  assert.equal(requestsFor(delivery.event_id).length, 1);
  assert.equal((await getDelivery(delivery.id)).status, "delivered");
});

test("test_claim_skips_future_deliveries", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id, new Date(Date.now() + 3600_000));

  await assertNothingClaimed();
  assert.equal(requestsFor(delivery.event_id).length, 0);
  const row = await getDelivery(delivery.id);
  assert.deepEqual([row.status, row.attempt_count], ["pending", 0]);
});

test("test_claim_bumps_next_attempt_at", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id);

  // The receiver holds the request, so the row is read while the
  // dispatcher's claim is in flight.
  let answer = () => {};
  const run = attemptRun(SCHEDULE_7, (_req, res) => void (answer = () => res.end("ok")), delivery.id, 1);
  await until(() => requestsFor(delivery.event_id).length === 1, 15_000, "the request");

  try {
    // next_attempt_at should now be ~5 minutes in the future
    const wait = (await getDelivery(delivery.id)).wait;
    assert.ok(wait > 200 && wait <= 300, `next attempt in ${wait}s`);
    // Claiming again should return nothing (bumped to future)
    assert.equal((await claimDue(db.sql, 10, CLAIM_TIMEOUT_SECS)).length, 0);
  } finally {
    answer();
  }
  assert.equal(await run, 1);
});

test("test_claim_skips_delivered", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id);
  await attemptRun(SCHEDULE_7, respond(200, "ok"), delivery.id, 1);
  assert.equal((await getDelivery(delivery.id)).status, "delivered");

  // Due by the clock: only its status keeps it from being claimed.
  await timeTravelDelivery(delivery.id);
  await assertNothingClaimed();
  assert.equal(requestsFor(delivery.event_id).length, 1);
});

test("test_claim_skips_exhausted", async (t) => {
  // Exhausted both ways the dispatcher exhausts a row: its webhook disabled
  // (dwctl's mark_exhausted), and its only attempt failed (mark_failed).
  const disabled = await createTestWebhook(t);
  await updateWebhook(db.sql, disabled.user_id, disabled.id, { enabled: false });
  const unsent = await createTestDelivery(disabled.id);
  const webhook = await createTestWebhook(t);
  const failed = await createTestDelivery(webhook.id);
  await dispatcherRun("0", respond(500), async () => {
    const rows = [await getDelivery(unsent.id), await getDelivery(failed.id)];
    return rows.every((r) => r.status === "exhausted");
  });
  assert.equal(requestsFor(unsent.event_id).length, 0);
  assert.equal(requestsFor(failed.event_id).length, 1);
  // mark_failed leaves an exhausted row's next_attempt_at at now(): due by
  // the clock, not the claim's bump.
  assert.ok((await getDelivery(failed.id)).wait <= 0);

  await timeTravelDelivery(unsent.id);
  await assertNothingClaimed();
});

test("test_mark_failed_sets_retry_schedule", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id);

  // Attempt 0 → 1: next retry in ~5 seconds
  await attemptRun(SCHEDULE_7, respond(500), delivery.id, 1);
  let d = await getDelivery(delivery.id);
  assert.equal(d.status, "failed");
  assert.equal(d.attempt_count, 1);
  assert.deepEqual([d.last_status_code, d.last_error], [500, "HTTP 500"]);
  assert.ok(d.wait >= 3 && d.wait <= 7, `expected ~5s delay, got ${d.wait}s`);

  // Time travel and fail again: attempt 1 → 2: next retry in ~5 minutes
  await timeTravelDelivery(delivery.id);
  await attemptRun(SCHEDULE_7, respond(502), delivery.id, 2);
  d = await getDelivery(delivery.id);
  assert.equal(d.attempt_count, 2);
  assert.deepEqual([d.last_status_code, d.last_error], [502, "HTTP 502"]);
  assert.ok(d.wait >= 280 && d.wait <= 320, `expected ~300s delay, got ${d.wait}s`);
});

/** A row that has already failed `attempts` times and is due again. */
async function deliveryAfterFailures(webhookId: string, attempts: number) {
  const delivery = await createTestDelivery(webhookId);
  await db.sql`UPDATE webhook_deliveries SET status = 'failed', attempt_count = ${attempts} WHERE id = ${delivery.id}`;
  return delivery;
}

test("test_mark_failed_exhausts_at_max_retries", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await deliveryAfterFailures(webhook.id, 6);

  // Attempt 6 → 7 with 7-entry schedule: should exhaust
  await attemptRun(SCHEDULE_7, respond(500), delivery.id, 7);
  const d = await getDelivery(delivery.id);
  assert.equal(d.status, "exhausted");
  assert.equal(d.attempt_count, 7);
  assert.ok(d.wait <= 0, `next_attempt_at is now(), not the claim's bump (${d.wait}s ahead)`);
});

test("test_mark_failed_respects_custom_max_retries", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await deliveryAfterFailures(webhook.id, 2);

  // With 3-entry schedule, attempt 2 → 3 should exhaust
  await attemptRun(SCHEDULE_3, respond(500), delivery.id, 3);
  const d = await getDelivery(delivery.id);
  assert.equal(d.status, "exhausted");
  assert.equal(d.attempt_count, 3);
});

test("test_full_retry_lifecycle", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id);
  assert.equal(delivery.status, "pending");
  assert.equal(delivery.attempt_count, 0);

  /** Attempt `n`: one claim, the receiver answers `code`, the row is left `status`, the webhook n failures in a row. */
  const failedAttempt = async (n: number, code: number, status: string) => {
    assert.equal(await attemptRun(SCHEDULE_3, respond(code), delivery.id, n), 1);
    const d = await getDelivery(delivery.id);
    assert.equal(d.status, status);
    assert.equal(d.attempt_count, n);
    assert.equal(await consecutiveFailures(webhook.id), n);
  };

  // Attempt 1: claim, fail, check state
  await failedAttempt(1, 500, "failed");

  // Attempt 2: time travel, claim, fail
  await timeTravelDelivery(delivery.id);
  await failedAttempt(2, 503, "failed");

  // Attempt 3: time travel, claim, fail → exhausted; dwctl's dispatcher counts the exhausting failure too.
  await timeTravelDelivery(delivery.id);
  await failedAttempt(3, 500, "exhausted");

  // No more claims
  await timeTravelDelivery(delivery.id);
  await assertNothingClaimed(SCHEDULE_3);
  assert.equal(requestsFor(delivery.event_id).length, 3);
});

test("test_successful_delivery_resets_failures", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id);

  // Fail once to increment failures
  await attemptRun(SCHEDULE_7, respond(500), delivery.id, 1);
  assert.equal(await consecutiveFailures(webhook.id), 1);

  // Succeed on retry
  await timeTravelDelivery(delivery.id);
  assert.equal(await attemptRun(SCHEDULE_7, respond(200, "ok"), delivery.id, 2), 1);

  // Verify webhook failures reset
  assert.equal(await consecutiveFailures(webhook.id), 0);
  // dwctl's mark_delivered clears the failure's error.
  const d = await getDelivery(delivery.id);
  assert.deepEqual([d.status, d.last_status_code, d.last_error], ["delivered", 200, null]);

  // Delivery should not be claimable
  assert.equal((await claimDue(db.sql, 10, CLAIM_TIMEOUT_SECS)).length, 0);
  await timeTravelDelivery(delivery.id);
  assert.equal((await claimDue(db.sql, 10, CLAIM_TIMEOUT_SECS)).length, 0);
});

test("test_mark_exhausted_is_terminal", async (t) => {
  const webhook = await createTestWebhook(t);
  await updateWebhook(db.sql, webhook.user_id, webhook.id, { enabled: false });
  const delivery = await createTestDelivery(webhook.id);

  await dispatcherRun(
    SCHEDULE_7,
    respond(200, "ok"),
    async () => (await getDelivery(delivery.id)).status !== "pending",
  );
  const d = await getDelivery(delivery.id);
  assert.equal(d.status, "exhausted");
  assert.equal(d.last_error, "webhook disabled");
  assert.equal(d.attempt_count, 0, "nothing was sent");
  assert.equal(requestsFor(delivery.event_id).length, 0);

  // Not claimable
  await timeTravelDelivery(delivery.id);
  await assertNothingClaimed();
});

// The example in the issue that found the difference: dwctl's mark_delivered
// sets last_error = NULL, whatever the attempts before it said.
test("mark_delivered: failed twice with 503, then delivered, the row carries no error", async (t) => {
  const webhook = await createTestWebhook(t);
  const delivery = await createTestDelivery(webhook.id);
  await attemptRun(SCHEDULE_7, respond(503), delivery.id, 1);
  await timeTravelDelivery(delivery.id);
  await attemptRun(SCHEDULE_7, respond(503), delivery.id, 2);
  assert.equal((await getDelivery(delivery.id)).last_error, "HTTP 503");
  await timeTravelDelivery(delivery.id);
  await attemptRun(SCHEDULE_7, respond(200, "ok"), delivery.id, 3);
  const d = await getDelivery(delivery.id);
  assert.deepEqual([d.status, d.attempt_count, d.last_status_code, d.last_error], ["delivered", 3, 200, null]);
});
