// The delivery engine end to end, in process: the real dispatcher machine
// over a real Postgres, sending to real HTTP receivers on 127.0.0.1.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "../src/start/config.ts";
import { createDelivery, getDelivery } from "./support/dwctl-reference.ts";
import { createWebhook, deleteWebhook, getWebhook, updateWebhook } from "../src/db/webhooks.ts";
import { type Dispatcher, startDispatcher } from "../src/start/dispatcher-actor.ts";
import { createMetrics } from "../src/start/metrics.ts";
import { verify } from "./support/verify.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { type Receiver, respond, startReceiver } from "./support/receiver.ts";
import { until } from "./support/service.ts";

let db: TestDatabase;
before(async () => (db = await testDatabase({ max: 20 })));
after(async () => await db.close());

const config = (env: Record<string, string> = {}) =>
  loadConfig({
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_POLL_INTERVAL_MS: "50",
    STATEHOOK_TIMEOUT_SECS: "5",
    ...env,
  });

async function webhookAt(receiver: Receiver) {
  return await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/hook` });
}

async function enqueue(webhookId: string, n = 1): Promise<string[]> {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const row = await createDelivery(db.sql, {
      webhookId,
      eventId: crypto.randomUUID(),
      eventType: "batch.completed",
      payload: { type: "batch.completed", timestamp: new Date().toISOString(), data: { n: i } },
    });
    ids.push(row.id);
  }
  return ids;
}

const statuses = async (ids: string[]) =>
  (await db.sql<{ status: string }[]>`SELECT status FROM webhook_deliveries WHERE id = ANY(${ids}::uuid[])`).map((r) =>
    r.status
  );

const allIn = (wanted: string[]) => async (ids: string[]) => {
  const s = await statuses(ids);
  return s.length === ids.length && s.every((x) => wanted.includes(x));
};

/** Runs `body` with a dispatcher and a receiver, and always stops both. */
async function withDispatcher(
  env: Record<string, string>,
  body: (
    ctx: { dispatcher: Dispatcher; receiver: Receiver; metrics: ReturnType<typeof createMetrics> },
  ) => Promise<void>,
) {
  const receiver = await startReceiver();
  const metrics = createMetrics();
  const dispatcher = await startDispatcher({ sql: db.sql, config: config(env), metrics });
  try {
    await body({ dispatcher, receiver, metrics });
  } finally {
    await dispatcher.stop();
    await receiver.close();
  }
}

test("a delivery arrives with a signature the receiver can verify, and is recorded", async () => {
  await withDispatcher({}, async ({ receiver, metrics }) => {
    const { webhook, secret } = await webhookAt(receiver);
    const [id] = await enqueue(webhook.id);
    const [request] = await receiver.waitFor(1);
    const row = await getDelivery(db.sql, id);
    assert.equal(request.headers["webhook-id"], row!.event_id);
    assert.equal(request.headers["webhook-version"], "1");
    assert.equal(request.headers["content-type"], "application/json");
    assert.deepEqual(await verify(secret, request.headers, request.body), { ok: true });
    assert.deepEqual(JSON.parse(request.body).data, { n: 0 });
    await until(() => allIn(["delivered"])([id]), 5000, "delivered");
    const recorded = await getDelivery(db.sql, id);
    assert.equal(recorded?.attempt_count, 1);
    assert.equal(recorded?.last_status_code, 200);
    const attempts = await db.sql`SELECT * FROM webhook_delivery_attempts WHERE delivery_id = ${id}`;
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0].status_code, 200);
    assert.equal(attempts[0].response_body, "ok");
    const text = await metrics.registry.metrics();
    assert.match(text, /dwctl_webhook_deliveries_claimed_total 1/);
    assert.match(text, /dwctl_webhook_deliveries_total\{outcome="success"\} 1/);
    await deleteWebhook(db.sql, webhook.user_id, webhook.id);
  });
});

test("a receiver answering 500 is retried on the schedule and the delivery exhausts", async () => {
  await withDispatcher({ STATEHOOK_RETRY_SCHEDULE: "0,1,1" }, async ({ receiver }) => {
    receiver.setHandler(respond(500, "nope"));
    const { webhook } = await webhookAt(receiver);
    const [id] = await enqueue(webhook.id);
    const requests = await receiver.waitFor(3, 10_000);
    await until(() => allIn(["exhausted"])([id]), 5000, "exhausted");
    assert.equal(new Set(requests.map((r) => r.headers["webhook-id"])).size, 1, "one webhook-id across retries");
    assert.ok(requests[1].at - requests[0].at >= 900, "second attempt waited about 1 s");
    const row = await getDelivery(db.sql, id);
    assert.equal(row?.attempt_count, 3);
    assert.equal(row?.last_status_code, 500);
    assert.equal(row?.last_error, "HTTP 500");
    assert.equal(receiver.received.length, 3);
    await deleteWebhook(db.sql, webhook.user_id, webhook.id);
  });
});

test("the breaker trips at the threshold and later deliveries exhaust unsent", async () => {
  const env = {
    STATEHOOK_RETRY_SCHEDULE: "0",
    STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "3",
    STATEHOOK_MAX_CONCURRENT_SENDS: "1",
    STATEHOOK_CLAIM_BATCH_SIZE: "1",
  };
  await withDispatcher(env, async ({ receiver, metrics }) => {
    receiver.setHandler(respond(503));
    const { webhook } = await webhookAt(receiver);
    const ids = await enqueue(webhook.id, 6);
    await until(() => allIn(["exhausted"])(ids), 10_000, "all exhausted");
    assert.equal(receiver.received.length, 3, "only the first three were sent");
    const rows = await db.sql<{ last_error: string }[]>`
      SELECT last_error FROM webhook_deliveries WHERE id = ANY(${ids}::uuid[]) ORDER BY created_at`;
    assert.deepEqual(rows.map((r) => r.last_error), [
      "HTTP 503",
      "HTTP 503",
      "HTTP 503",
      ...Array(3).fill("webhook disabled"),
    ]);
    const view = await getWebhook(db.sql, webhook.user_id, webhook.id);
    assert.equal(view?.enabled, false);
    assert.ok(view?.disabled_at);
    await until(
      async () => (await metrics.registry.metrics()).includes("dwctl_webhook_circuit_breaker_trips_total 1"),
      5000,
      "trip metric",
    );

    // Re-enabled through the repository and told to the running dispatcher:
    // new deliveries are sent again, with no restart.
    receiver.setHandler(respond(200));
    await updateWebhook(db.sql, webhook.user_id, webhook.id, { enabled: true });
    const [again] = await enqueue(webhook.id);
    await until(() => allIn(["delivered"])([again]), 5000, "delivered after re-enable");
    await deleteWebhook(db.sql, webhook.user_id, webhook.id);
  });
});

test("deleting a webhook while its deliveries are in flight does not crash the dispatcher", async () => {
  await withDispatcher({}, async ({ dispatcher, receiver }) => {
    const held: (() => void)[] = [];
    receiver.setHandler((_req, res) => void held.push(() => res.end("late")));
    const { webhook } = await webhookAt(receiver);
    await enqueue(webhook.id, 5);
    await receiver.waitFor(5);
    await deleteWebhook(db.sql, webhook.user_id, webhook.id);
    held.forEach((release) => release());
    receiver.setHandler(respond(200));
    const next = await webhookAt(receiver);
    const [id] = await enqueue(next.webhook.id);
    await until(() => allIn(["delivered"])([id]), 5000, "a later delivery");
    assert.ok(dispatcher.running());
    await deleteWebhook(db.sql, next.webhook.user_id, next.webhook.id);
  });
});

test("a row inserted with plain SQL is delivered long before a 60 s poll would find it (NOTIFY)", async () => {
  await withDispatcher({ STATEHOOK_POLL_INTERVAL_MS: "60000" }, async ({ dispatcher, receiver }) => {
    const { webhook } = await webhookAt(receiver);
    // Let the start-up claim come and go, so that only NOTIFY can wake it now.
    await until(
      async () => {
        const snapshot = dispatcher.actor.getSnapshot();
        return snapshot.matches({ intake: "idle" }) && !snapshot.context.moreDue;
      },
      5000,
      "the dispatcher to go idle",
    );
    await db.sql`
      INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload)
      VALUES (${webhook.id}, gen_random_uuid(), 'user.created', '{"type":"user.created","timestamp":"t","data":{}}')`;
    // The next poll is a minute away, so a delivery within 20 s came from NOTIFY.
    await receiver.waitFor(1, 20_000);
    await deleteWebhook(db.sql, webhook.user_id, webhook.id);
  });
});

test("two dispatchers on one database never send the same delivery twice", async () => {
  const receiver = await startReceiver();
  const env = { STATEHOOK_MAX_CONCURRENT_SENDS: "16", STATEHOOK_CLAIM_BATCH_SIZE: "8" };
  const a = await startDispatcher({ sql: db.sql, config: config(env) });
  const b = await startDispatcher({ sql: db.sql, config: config(env) });
  try {
    const { webhook } = await webhookAt(receiver);
    const ids = await enqueue(webhook.id, 300);
    await until(() => allIn(["delivered"])(ids), 20_000, "all delivered");
    const webhookIds = receiver.received.map((r) => r.headers["webhook-id"]);
    assert.equal(webhookIds.length, 300);
    assert.equal(new Set(webhookIds).size, 300);
    await deleteWebhook(db.sql, webhook.user_id, webhook.id);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await receiver.close();
  }
});

test("stop lets in-flight sends finish and records their outcomes", async () => {
  const receiver = await startReceiver();
  const held: (() => void)[] = [];
  receiver.setHandler((_req, res) => void held.push(() => res.end("ok")));
  const dispatcher = await startDispatcher({
    sql: db.sql,
    config: config({ STATEHOOK_MAX_CONCURRENT_SENDS: "4", STATEHOOK_SHUTDOWN_GRACE_MS: "10000" }),
  });
  const { webhook } = await webhookAt(receiver);
  const ids = await enqueue(webhook.id, 10);
  await receiver.waitFor(4);
  const stopped = dispatcher.stop();
  held.forEach((release) => release());
  await stopped;
  const rows = await db.sql<{ status: string; claimed: boolean }[]>`
    SELECT status, next_attempt_at > now() AS claimed FROM webhook_deliveries WHERE id = ANY(${ids}::uuid[])`;
  assert.equal(rows.filter((r) => r.status === "delivered").length, 4, "the four in flight were recorded");
  assert.ok(rows.filter((r) => r.status === "pending").every((r) => !r.claimed), "nothing left claimed");
  assert.equal(receiver.received.length, 4, "nothing claimed after stop");
  await receiver.close();
  await deleteWebhook(db.sql, webhook.user_id, webhook.id);
});

const gauge = async (metrics: ReturnType<typeof createMetrics>, name: string) =>
  (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value;

test("sends still hanging when the grace period ends are released, not lost; the dispatcher is not ready from STOP on", async () => {
  const receiver = await startReceiver(() => {}); // never answers
  const metrics = createMetrics();
  const dispatcher = await startDispatcher({
    sql: db.sql,
    metrics,
    config: config({ STATEHOOK_MAX_CONCURRENT_SENDS: "3", STATEHOOK_SHUTDOWN_GRACE_MS: "200" }),
  });
  const { webhook } = await webhookAt(receiver);
  const ids = await enqueue(webhook.id, 3);
  await receiver.waitFor(3);
  assert.equal(await gauge(metrics, "dwctl_webhook_deliveries_in_flight"), 3);

  // Hold the rows locked so that the release is still being written when the
  // intake has stopped: the dispatcher must not report itself running then.
  let unlock!: () => void;
  let locked!: () => void;
  const lockHeld = new Promise<void>((resolve) => (locked = resolve));
  const lock = db.sql.begin(async (tx) => {
    await tx`SELECT id FROM webhook_deliveries WHERE id = ANY(${ids}::uuid[]) FOR UPDATE`;
    locked();
    await new Promise<void>((r) => (unlock = r));
  });
  await lockHeld;
  const stopped = dispatcher.stop();
  try {
    assert.equal(dispatcher.running(), false, "not running once stop is asked");
    await until(() => dispatcher.actor.getSnapshot().matches({ intake: "stopped" }), 5000, "the intake to stop");
    assert.equal(dispatcher.actor.getSnapshot().status, "active", "the writer is still busy");
    assert.equal(dispatcher.running(), false, "not running while the last results are written");
  } finally {
    unlock();
    await lock;
    await stopped;
  }

  const rows = await db.sql<{ status: string; attempt_count: number; due: boolean }[]>`
    SELECT status, attempt_count, next_attempt_at <= now() AS due FROM webhook_deliveries WHERE id = ANY(${ids}::uuid[])`;
  assert.deepEqual(rows.map((r) => [r.status, r.attempt_count, r.due]), Array(3).fill(["pending", 0, true]));
  assert.equal(
    await gauge(metrics, "dwctl_webhook_deliveries_in_flight"),
    0,
    "released claims leave the in-flight gauge",
  );
  await receiver.close();
  await deleteWebhook(db.sql, webhook.user_id, webhook.id);
});

test("a sender that throws (a bug) is one failed attempt with its message, and the dispatcher carries on", async () => {
  let calls = 0;
  const dispatcher = await startDispatcher({
    sql: db.sql,
    config: config({ STATEHOOK_RETRY_SCHEDULE: "0,3600" }),
    send: async () => {
      calls++;
      throw new Error("sender bug");
    },
  });
  try {
    const { webhook } = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: "http://127.0.0.1:9/hook" });
    const first = await enqueue(webhook.id);
    await until(() => allIn(["failed"])(first), 10_000, "the first delivery failed");
    const second = await enqueue(webhook.id);
    await until(() => allIn(["failed"])(second), 10_000, "a later delivery is still attempted");
    const rows = await db.sql<{ last_error: string; attempt_count: number }[]>`
      SELECT last_error, attempt_count FROM webhook_deliveries WHERE id = ANY(${[...first, ...second]}::uuid[])`;
    assert.deepEqual(rows.map((r) => [r.last_error, r.attempt_count]), [["sender bug", 1], ["sender bug", 1]]);
    assert.equal(calls, 2);
    assert.ok(dispatcher.running());
  } finally {
    await dispatcher.stop();
  }
});
