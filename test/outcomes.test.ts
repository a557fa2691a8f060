// The batched result write must behave exactly like dwctl's one-row-at-a-time
// writes. A fast-check property applies random batches both ways, on twin
// rows, and compares every delivery and webhook column that matters. Where
// the batched write deliberately differs (README, "Differences from dwctl"),
// a test below pins down how.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type DeliveryOutcome, unsent } from "../machines/delivery.ts";
import { afterFailure } from "../machines/retry-schedule.ts";
import * as dwctl from "./support/dwctl-reference.ts";
import { recordOutcomes } from "../src/db/outcomes.ts";
import { createWebhook } from "../src/db/webhooks.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { attemptOutcome } from "./support/delivery-fixtures.ts";

let db: TestDatabase;
before(async () => (db = await testDatabase()));
after(async () => await db.close());

type Step = {
  webhook: number;
  kind: "success" | "failure" | "unsent";
  attemptsBefore: number;
  statusCode: number | null;
};

const scenario = fc.record({
  threshold: fc.integer({ min: 1, max: 4 }),
  schedule: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 4 }),
  startCounts: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 2 }),
  steps: fc.array(
    fc.record({
      webhook: fc.integer({ min: 0, max: 1 }),
      kind: fc.constantFrom("success", "failure", "failure", "unsent"),
      attemptsBefore: fc.nat(),
      statusCode: fc.option(fc.constantFrom(200, 204, 400, 500, 503), { nil: null }),
    }),
    { minLength: 1, maxLength: 12 },
  ),
});

async function twinWebhooks(startCounts: number[], threshold: number) {
  const ids = [];
  for (const count of startCounts) {
    const { webhook } = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: "https://example.com/h" });
    const start = Math.min(count, threshold - 1);
    await db.sql`UPDATE user_webhooks SET consecutive_failures = ${start} WHERE id = ${webhook.id}`;
    ids.push(webhook.id);
  }
  return ids;
}

/** Where a claim left next_attempt_at: one fixed instant, so a write that keeps it is seen exactly. */
const CLAIMED_UNTIL = new Date(Date.now() + 300_000);

/** A row as the claim hands it over: due no more, and, after a failed attempt, carrying that failure. */
async function deliveryWithAttempts(webhookId: string, attempts: number) {
  const row = await dwctl.createDelivery(db.sql, {
    webhookId,
    eventId: crypto.randomUUID(),
    eventType: "a.b",
    payload: {},
  });
  const failed = attempts > 0;
  await db.sql`UPDATE webhook_deliveries SET attempt_count = ${attempts}, status = ${failed ? "failed" : "pending"},
    next_attempt_at = ${CLAIMED_UNTIL}, last_status_code = ${failed ? 503 : null},
    last_error = ${failed ? "HTTP 503" : null}
    WHERE id = ${row.id}`;
  return row.id;
}

function outcomeOf(step: Step, deliveryId: string, webhookId: string, schedule: number[]): DeliveryOutcome {
  const base = { deliveryId, webhookId, attemptsBefore: step.attemptsBefore, durationMs: 1, responseBody: "" };
  if (step.kind === "unsent") return unsent({ id: deliveryId, webhookId, attemptCount: step.attemptsBefore });
  if (step.kind === "success") {
    return {
      ...base,
      status: "delivered",
      attempted: true,
      retryDelaySecs: null,
      statusCode: step.statusCode ?? 200,
      error: null,
    };
  }
  const next = afterFailure(step.attemptsBefore, schedule);
  return {
    ...base,
    attempted: true,
    statusCode: step.statusCode,
    error: "boom",
    status: next.status,
    retryDelaySecs: next.status === "failed" ? next.retryDelaySecs : null,
  };
}

// wait: null while next_attempt_at is still the claim's; otherwise seconds
// from the write (updated_at is the writing transaction's now()) to it.
const deliveryState = (ids: string[]) =>
  db.sql`
  SELECT status, attempt_count, last_status_code, last_error,
    CASE WHEN next_attempt_at = ${CLAIMED_UNTIL} THEN NULL
      ELSE round(extract(epoch FROM next_attempt_at - updated_at))::int END AS wait
  FROM webhook_deliveries WHERE id = ANY(${ids}::uuid[])
  ORDER BY array_position(${ids}::uuid[], id)`;

const webhookState = (ids: string[]) =>
  db.sql`
  SELECT consecutive_failures, enabled, disabled_at IS NOT NULL AS disabled
  FROM user_webhooks WHERE id = ANY(${ids}::uuid[])
  ORDER BY array_position(${ids}::uuid[], id)`;

test("one batched write equals dwctl's sequential writes, for any batch", async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ threshold, schedule, startCounts, steps }) => {
      const sequentialHooks = await twinWebhooks(startCounts, threshold);
      const batchedHooks = await twinWebhooks(startCounts, threshold);
      const sequential: string[] = [];
      const batched: string[] = [];
      const normalised = steps.map((s) => ({ ...s, attemptsBefore: s.attemptsBefore % schedule.length }));
      for (const step of normalised) {
        sequential.push(await deliveryWithAttempts(sequentialHooks[step.webhook], step.attemptsBefore));
        batched.push(await deliveryWithAttempts(batchedHooks[step.webhook], step.attemptsBefore));
      }

      for (const [i, step] of normalised.entries()) {
        const id = sequential[i];
        const webhookId = sequentialHooks[step.webhook];
        if (step.kind === "unsent") await dwctl.markExhausted(db.sql, id);
        if (step.kind === "success") {
          await dwctl.markDelivered(db.sql, id, step.statusCode ?? 200);
          await dwctl.resetFailures(db.sql, webhookId);
        }
        if (step.kind === "failure") {
          await dwctl.markFailed(db.sql, id, step.statusCode, "boom", step.attemptsBefore, schedule);
          await dwctl.incrementFailures(db.sql, webhookId, threshold);
        }
      }
      const outcomes = normalised.map((s, i) => outcomeOf(s, batched[i], batchedHooks[s.webhook], schedule));
      await recordOutcomes(db.sql, { outcomes, released: [] }, threshold);

      assert.deepEqual([...await deliveryState(batched)], [...await deliveryState(sequential)]);
      assert.deepEqual([...await webhookState(batchedHooks)], [...await webhookState(sequentialHooks)]);
    }),
    { numRuns: 60 },
  );
});

test("a stale outcome (the row moved on since the claim) is dropped", async () => {
  const [webhookId] = await twinWebhooks([0], 5);
  const id = await deliveryWithAttempts(webhookId, 0);
  await dwctl.markFailed(db.sql, id, 500, "HTTP 500", 0, [0, 5, 300]);
  const stale = outcomeOf({ webhook: 0, kind: "success", attemptsBefore: 0, statusCode: 200 }, id, webhookId, [
    0,
    5,
    300,
  ]);
  await recordOutcomes(db.sql, { outcomes: [stale], released: [] }, 5);
  const [row] = await deliveryState([id]);
  assert.equal(row.status, "failed");
  assert.equal(row.attempt_count, 1);
});

test("released claims are due again with no attempt counted and no log row", async () => {
  const [webhookId] = await twinWebhooks([0], 5);
  const id = await deliveryWithAttempts(webhookId, 1);
  await db.sql`UPDATE webhook_deliveries SET next_attempt_at = now() + interval '5 minutes' WHERE id = ${id}`;
  await recordOutcomes(db.sql, { outcomes: [], released: [{ deliveryId: id, webhookId, attemptsBefore: 1 }] }, 5);
  const [row] = await deliveryState([id]);
  assert.deepEqual({ ...row }, {
    status: "failed",
    attempt_count: 1,
    last_status_code: 503,
    last_error: "HTTP 503",
    wait: 0,
  });
  const logged = await db.sql`SELECT 1 FROM webhook_delivery_attempts WHERE delivery_id = ${id}`;
  assert.equal(logged.length, 0);
});

// The differences from dwctl's writes that are meant (README, "Differences from dwctl").

test("a late outcome never changes a delivered or exhausted row (dwctl's writes match by id alone)", async () => {
  const [webhookId] = await twinWebhooks([0], 5);
  const exhausted = await deliveryWithAttempts(webhookId, 0);
  const delivered = await deliveryWithAttempts(webhookId, 0);
  await dwctl.markExhausted(db.sql, exhausted);
  await dwctl.markDelivered(db.sql, delivered, 200);
  const before = [...await deliveryState([exhausted, delivered])];
  const late = [
    outcomeOf({ webhook: 0, kind: "success", attemptsBefore: 0, statusCode: 200 }, exhausted, webhookId, [0, 5]),
    outcomeOf({ webhook: 0, kind: "failure", attemptsBefore: 1, statusCode: 500 }, delivered, webhookId, [0, 5]),
  ];
  assert.deepEqual(await recordOutcomes(db.sql, { outcomes: late, released: [] }, 5), { webhooks: [], exhausted: 0 });
  assert.deepEqual([...await deliveryState([exhausted, delivered])], before);
  const [hook] = await webhookState([webhookId]);
  assert.equal(hook.consecutive_failures, 0, "a dropped outcome does not count either");
});

test("a failure recorded after the breaker tripped leaves disabled_at at the trip (dwctl stamps it again)", async () => {
  const [batchedHook, referenceHook] = await twinWebhooks([0, 0], 2);
  // In microseconds: two writes a millisecond apart would look equal as Dates.
  const disabledAt = async (id: string) => {
    const [row] = await db.sql<{ us: string }[]>`
      SELECT (extract(epoch FROM disabled_at) * 1000000)::bigint::text AS us FROM user_webhooks WHERE id = ${id}`;
    return BigInt(row.us);
  };
  const failure = async (webhookId: string) =>
    outcomeOf(
      { webhook: 0, kind: "failure", attemptsBefore: 0, statusCode: 500 },
      await deliveryWithAttempts(webhookId, 0),
      webhookId,
      [0, 5],
    );

  const trip = await recordOutcomes(db.sql, {
    outcomes: [await failure(batchedHook), await failure(batchedHook)],
    released: [],
  }, 2);
  assert.deepEqual(trip.webhooks.map((w) => [w.enabled, w.tripped]), [[false, true]]);
  const tripped = await disabledAt(batchedHook);
  const late = await recordOutcomes(db.sql, { outcomes: [await failure(batchedHook)], released: [] }, 2);
  assert.deepEqual(late.webhooks.map((w) => [w.consecutiveFailures, w.enabled, w.tripped]), [[3, false, false]]);
  assert.deepEqual(await disabledAt(batchedHook), tripped);

  await dwctl.incrementFailures(db.sql, referenceHook, 2);
  await dwctl.incrementFailures(db.sql, referenceHook, 2);
  const first = await disabledAt(referenceHook);
  await dwctl.incrementFailures(db.sql, referenceHook, 2);
  assert.ok(
    await disabledAt(referenceHook) > first,
    "dwctl's increment stamps disabled_at on every failure past the threshold",
  );
});

test("the write counts the rows it left exhausted: not one a cool-down keeps failed, nor a stale one", async () => {
  const [healthy, cooling] = await twinWebhooks([0, 0], 100);
  // The cooling endpoint's breaker is open with a cool-down: its rows wait for it instead of exhausting.
  await db.sql`INSERT INTO webhook_endpoint_state (webhook_id, breaker, reopen_at, cooldown_secs)
    VALUES (${cooling}, 'open', now() + interval '1 hour', 60)`;
  const exhausting = (webhookId: string, deliveryId: string, attemptsBefore: number) =>
    attemptOutcome("exhausted", { deliveryId, webhookId, attemptsBefore });
  const sent = await deliveryWithAttempts(healthy, 2);
  const unsentRow = await deliveryWithAttempts(healthy, 0);
  const kept = await deliveryWithAttempts(cooling, 2);
  const stale = await deliveryWithAttempts(healthy, 3);
  const recorded = await recordOutcomes(db.sql, {
    outcomes: [
      exhausting(healthy, sent, 2),
      unsent({ id: unsentRow, webhookId: healthy, attemptCount: 0 }),
      exhausting(cooling, kept, 2),
      exhausting(healthy, stale, 2),
    ],
    released: [],
  }, 100);
  assert.deepEqual((await deliveryState([sent, unsentRow, kept, stale])).map((r) => r.status), [
    "exhausted",
    "exhausted",
    "failed",
    "failed",
  ]);
  assert.equal(recorded.exhausted, 2);
});
