// The API with the real dispatcher and a real receiver on 127.0.0.1, over a
// real HTTP server on port 0: publish → delivered within moments; a receiver
// that fails exhausts the delivery; retry through the API → delivered; and
// /metrics counts match what happened. Re-enabling a breaker-disabled
// webhook through PATCH lets deliveries flow again without a restart.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { verify } from "./support/verify.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { type Receiver, respond, startReceiver } from "./support/receiver.ts";
import { until } from "./support/service.ts";
import { TOKEN } from "./support/api-client.ts";
import { serveApiWithDispatcher, type ServedApi } from "./support/served-api.ts";

let db: TestDatabase;
let receiver: Receiver;
let served: ServedApi;
const logs: string[] = [];

before(async () => {
  db = await testDatabase({ max: 20 });
  receiver = await startReceiver();
  served = await serveApiWithDispatcher(
    db.sql,
    { STATEHOOK_RETRY_SCHEDULE: "0,0", STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "4" },
    (dispatcher) => ({
      allowPrivateTargets: true,
      log: (level, msg, fields) => logs.push(JSON.stringify({ level, msg, ...fields })),
      onWebhookReenabled: dispatcher.reenabled,
      onDeliveriesQueued: dispatcher.wake,
    }),
  );
});

after(async () => {
  await served.stop();
  await receiver.close();
  await db.close();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(served.base + path, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
}

const delivery = (id: string) => call("GET", `/admin/api/v1/deliveries/${id}`).then((r) => r.body);

test("create, publish, delivered and signed; then fail until exhausted, retry, delivered", async () => {
  const userId = crypto.randomUUID();
  const created = await call("POST", `/admin/api/v1/users/${userId}/webhooks`, { url: `${receiver.url}/hook` });
  assert.equal(created.status, 201, created.text);
  const { id: webhookId, secret } = created.body;

  const published = await call("POST", "/admin/api/v1/events", {
    event_type: "batch.completed",
    data: { n: 1 },
    user_id: userId,
  });
  assert.equal(published.status, 202);
  const [first] = published.body.deliveries;
  const [request] = await receiver.waitFor(1);
  assert.equal(request.headers["webhook-id"], published.body.event_id);
  assert.deepEqual(await verify(secret, request.headers, request.body), { ok: true });
  assert.deepEqual(JSON.parse(request.body).data, { n: 1 });
  await until(async () => (await delivery(first.id)).status === "delivered", 10_000, "delivered");
  const detail = await delivery(first.id);
  assert.equal(detail.attempts.length, 1);
  assert.equal(detail.attempts[0].status_code, 200);

  receiver.setHandler(respond(503, "down for maintenance"));
  const failing = await call("POST", "/admin/api/v1/events", { event_type: "batch.failed", data: {}, user_id: userId });
  const id = failing.body.deliveries[0].id;
  await until(async () => (await delivery(id)).status === "exhausted", 10_000, "exhausted");
  const exhausted = await delivery(id);
  assert.equal(exhausted.attempt_count, 2);
  assert.deepEqual(exhausted.attempts.map((a: { status_code: number }) => a.status_code), [503, 503]);
  assert.equal(exhausted.attempts[1].response_body, "down for maintenance");

  receiver.setHandler(respond(204));
  const received = receiver.received.length;
  const retried = await call("POST", `/admin/api/v1/deliveries/${id}/retry`);
  assert.equal(retried.status, 202, retried.text);
  await until(async () => (await delivery(id)).status === "delivered", 10_000, "delivered after retry");
  const after = await delivery(id);
  assert.equal(after.attempt_count, 1, "a fresh schedule");
  assert.equal(after.attempts.length, 3, "the history keeps the earlier attempts");
  assert.equal(receiver.received.length, received + 1);
  assert.equal(receiver.received.at(-1)!.headers["webhook-id"], failing.body.event_id, "same webhook-id on the replay");

  const list = await call("GET", `/admin/api/v1/users/${userId}/webhooks/${webhookId}/deliveries`);
  assert.deepEqual(list.body.data.map((d: { status: string }) => d.status), ["delivered", "delivered"]);

  // /metrics matches: 2 successes and 2 failed attempts; 1 exhausted.
  const text = await (await fetch(`${served.base}/metrics`)).text();
  const value = (series: string) =>
    Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
  assert.equal(value('dwctl_webhook_deliveries_total{outcome="success"}'), 2);
  assert.equal(value('dwctl_webhook_deliveries_total{outcome="failure"}'), 2);
  assert.equal(value("dwctl_webhook_deliveries_exhausted_total"), 1);
  assert.equal(value("dwctl_webhook_deliveries_claimed_total"), 4);
  assert.equal(value("dwctl_webhook_attempt_duration_seconds_count"), 4);
  for (const line of logs) assert.ok(!line.includes(secret) && !line.includes(TOKEN), line);
});

test("a webhook the breaker disabled delivers again after PATCH enabled: true, without a restart", async () => {
  receiver.setHandler(respond(500));
  const userId = crypto.randomUUID();
  const created = await call("POST", `/admin/api/v1/users/${userId}/webhooks`, { url: `${receiver.url}/breaker` });
  const webhookPath = `/admin/api/v1/users/${userId}/webhooks/${created.body.id}`;
  for (let i = 0; i < 2; i++) {
    await call("POST", "/admin/api/v1/events", { event_type: "batch.failed", data: { i }, user_id: userId });
  }
  await until(async () => (await call("GET", webhookPath)).body.enabled === false, 10_000, "breaker trips");
  assert.ok((await call("GET", webhookPath)).body.disabled_at);

  receiver.setHandler(respond(200));
  const reenabled = await call("PATCH", webhookPath, { enabled: true });
  assert.equal(reenabled.body.enabled, true);
  assert.equal(reenabled.body.disabled_at, null);
  const published = await call("POST", "/admin/api/v1/events", {
    event_type: "batch.completed",
    data: {},
    user_id: userId,
  });
  const id = published.body.deliveries[0].id;
  await until(async () => (await delivery(id)).status === "delivered", 10_000, "delivered after re-enable");
  const [row] = await db.sql<
    { consecutive_failures: number }[]
  >`SELECT consecutive_failures FROM user_webhooks WHERE id = ${created.body.id}`;
  assert.equal(row.consecutive_failures, 0);
});

test("readyz reports the database and the running dispatcher", async () => {
  const response = await fetch(`${served.base}/readyz`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ready", database: true, dispatcher: true });
});
