// Publishing, delivery inspection and retry through the real Hono app, with
// no dispatcher running so every row stays where the test put it: fan-out
// counts, idempotency, keyset pagination, the attempt history, retry's state
// rules, and the OpenAPI document and docs page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DELIVERY_CHANNEL } from "../src/db/migrations.ts";
import { createDelivery } from "./support/dwctl-reference.ts";
import { pruneAttempts } from "../src/db/retention.ts";
import { apiHarness, assertError, postWebhook, webhooksPath } from "./support/api-client.ts";
import { until } from "./support/service.ts";

// The fan-out tests create platform webhooks, which the operator must allow.
const { db, api } = await apiHarness({ allowPlatformWebhooks: true });

async function publish(body: Record<string, unknown>) {
  const reply = await api.call("POST", "/admin/api/v1/events", { data: {}, ...body });
  assert.equal(reply.status, 202, reply.text);
  return reply.body as {
    event_id: string;
    event_type: string;
    timestamp: string;
    deliveries: { id: string; webhook_id: string; status: string }[];
    duplicate_webhook_ids: string[];
  };
}

/** Platform webhooks receive every user's events; tests that count them start from none. */
async function clearPlatformWebhooks() {
  await db.sql`DELETE FROM user_webhooks WHERE scope = 'platform'`;
}

test("publish fans out to the user's own webhooks and to platform webhooks, by event type", async () => {
  await clearPlatformWebhooks();
  const alice = crypto.randomUUID();
  const bob = crypto.randomUUID();
  const all = await postWebhook(api, alice);
  const wanted = await postWebhook(api, alice, { event_types: ["batch.completed", "batch.failed"] });
  const unwanted = await postWebhook(api, alice, { event_types: ["batch.failed"] });
  const disabled = await postWebhook(api, alice);
  await api.call("PATCH", `${webhooksPath(alice)}/${disabled.id}`, { enabled: false });
  const bobs = await postWebhook(api, bob);
  const platformAll = await postWebhook(api, crypto.randomUUID(), { scope: "platform" });
  const platformWanted = await postWebhook(api, crypto.randomUUID(), {
    scope: "platform",
    event_types: ["batch.completed"],
  });
  const platformUnwanted = await postWebhook(api, crypto.randomUUID(), {
    scope: "platform",
    event_types: ["user.created"],
  });

  const event = await publish({ event_type: "batch.completed", user_id: alice, data: { batch_id: "b1", n: 3 } });
  const receivers = event.deliveries.map((d) => d.webhook_id).sort();
  assert.deepEqual(receivers, [all.id, wanted.id, platformAll.id, platformWanted.id].sort());
  for (const excluded of [unwanted, disabled, bobs, platformUnwanted]) assert.ok(!receivers.includes(excluded.id));
  assert.deepEqual(event.duplicate_webhook_ids, []);
  assert.equal(event.event_type, "batch.completed");
  for (const d of event.deliveries) assert.equal(d.status, "pending");

  const rows = await db.sql<{ event_id: string; payload: Record<string, unknown> }[]>`
    SELECT event_id, payload FROM webhook_deliveries WHERE id = ANY(${event.deliveries.map((d) => d.id)}::uuid[])`;
  assert.equal(rows.length, 4);
  for (const row of rows) {
    assert.equal(row.event_id, event.event_id, "one event id for every delivery");
    assert.deepEqual(Object.keys(row.payload).sort(), ["data", "timestamp", "type"]);
    assert.equal(row.payload.type, "batch.completed");
    assert.equal(row.payload.timestamp, event.timestamp);
    assert.deepEqual(row.payload.data, { batch_id: "b1", n: 3 });
  }

  const forBob = await publish({ event_type: "batch.completed", user_id: bob });
  assert.deepEqual(
    forBob.deliveries.map((d) => d.webhook_id).sort(),
    [bobs.id, platformAll.id, platformWanted.id].sort(),
  );
  const platformOnly = await publish({ event_type: "user.created" });
  assert.deepEqual(
    platformOnly.deliveries.map((d) => d.webhook_id).sort(),
    [platformAll.id, platformUnwanted.id].sort(),
  );
  const nobody = await publish({ event_type: "nothing.wants_this", user_id: crypto.randomUUID() });
  assert.deepEqual(nobody.deliveries.map((d) => d.webhook_id), [platformAll.id]);
  await clearPlatformWebhooks();
  const none = await publish({ event_type: "nothing.wants_this", user_id: crypto.randomUUID() });
  assert.deepEqual(none.deliveries, []);
});

test("publish with a resource_id is idempotent per (webhook, event type, resource)", async () => {
  await clearPlatformWebhooks();
  const userId = crypto.randomUUID();
  const a = await postWebhook(api, userId);
  const resourceId = crypto.randomUUID();
  const first = await publish({ event_type: "batch.completed", user_id: userId, resource_id: resourceId });
  assert.deepEqual(first.deliveries.map((d) => d.webhook_id), [a.id]);
  const again = await publish({
    event_type: "batch.completed",
    user_id: userId,
    resource_id: resourceId,
    data: { x: 1 },
  });
  assert.deepEqual(again.deliveries, [], "nothing new");
  assert.deepEqual(again.duplicate_webhook_ids, [a.id], "and it says so");
  // A webhook added since gets its delivery; the one that had it does not get a second.
  const b = await postWebhook(api, userId);
  const third = await publish({ event_type: "batch.completed", user_id: userId, resource_id: resourceId });
  assert.deepEqual(third.deliveries.map((d) => d.webhook_id), [b.id]);
  assert.deepEqual(third.duplicate_webhook_ids, [a.id]);
  const otherType = await publish({ event_type: "batch.failed", user_id: userId, resource_id: resourceId });
  assert.equal(otherType.deliveries.length, 2);
  const [{ count }] = await db.sql<{ count: number }[]>`
    SELECT count(*)::int AS count FROM webhook_deliveries WHERE resource_id = ${resourceId}`;
  assert.equal(count, 4);
  // Without a resource id every publish is new.
  const plain1 = await publish({ event_type: "batch.completed", user_id: userId });
  const plain2 = await publish({ event_type: "batch.completed", user_id: userId });
  assert.equal(plain1.deliveries.length, 2);
  assert.equal(plain2.deliveries.length, 2);
  assert.notEqual(plain1.event_id, plain2.event_id);
});

test("a publish wakes its own dispatcher in process and sends no NOTIFY; a plain insert still NOTIFYs", async () => {
  const payloads: string[] = [];
  const listener = await db.sql.listen(DELIVERY_CHANNEL, (payload) => payloads.push(payload));
  try {
    const userId = crypto.randomUUID();
    const w = await postWebhook(api, userId);
    const queuedBefore = api.queued.count;
    await publish({ event_type: "batch.completed", user_id: userId });
    await publish({ event_type: "batch.completed", user_id: userId });
    assert.equal(api.queued.count, queuedBefore + 2, "each publish woke the dispatcher in process");
    await createDelivery(db.sql, {
      webhookId: w.id,
      eventId: crypto.randomUUID(),
      eventType: "batch.completed",
      payload: {},
    });
    // Notifications arrive in commit order: once this marker is in, every
    // earlier one is too.
    await db.sql`SELECT pg_notify(${DELIVERY_CHANNEL}, 'marker')`;
    await until(() => payloads.includes("marker"), 5000, "the marker NOTIFY");
    assert.deepEqual(payloads, ["", "marker"], "one NOTIFY, from the plain insert");
  } finally {
    await listener.unlisten();
  }
});

const badEvents: [string, unknown][] = [
  ["missing event_type", { data: {} }],
  ["missing data", { event_type: "batch.completed" }],
  ["event_type not a string", { event_type: 5, data: {} }],
  ["event_type without a dot", { event_type: "batch", data: {} }],
  ["event_type with a leading dot", { event_type: ".batch", data: {} }],
  ["event_type too long", { event_type: `a.${"b".repeat(200)}`, data: {} }],
  ["data an array", { event_type: "a.b", data: [1, 2] }],
  ["data a string", { event_type: "a.b", data: "hello" }],
  ["data null", { event_type: "a.b", data: null }],
  ["data with a NUL", { event_type: "a.b", data: { s: "a\u0000b" } }],
  ["data with a NUL in a key", { event_type: "a.b", data: { "k\u0000": 1 } }],
  ["data with an unpaired surrogate", { event_type: "a.b", data: { s: "\ud800" } }],
  ["data nested too deep", { event_type: "a.b", data: JSON.parse(`${'{"a":'.repeat(100)}1${"}".repeat(100)}`) }],
  ["user_id not a UUID", { event_type: "a.b", data: {}, user_id: "alice" }],
  ["user_id a number", { event_type: "a.b", data: {}, user_id: 7 }],
  ["resource_id not a UUID", { event_type: "a.b", data: {}, resource_id: "batch-1" }],
  ["unknown field", { event_type: "a.b", data: {}, webhook_id: crypto.randomUUID() }],
  ["body an array", [{ event_type: "a.b", data: {} }]],
];

for (const [name, body] of badEvents) {
  test(`publish refuses ${name} with a 400 and queues nothing`, async () => {
    const [{ before }] = await db.sql<{ before: number }[]>`SELECT count(*)::int AS before FROM webhook_deliveries`;
    assertError(await api.call("POST", "/admin/api/v1/events", body), 400, "invalid_request");
    const [{ now }] = await db.sql<{ now: number }[]>`SELECT count(*)::int AS now FROM webhook_deliveries`;
    assert.equal(now, before);
  });
}

test("publish refuses malformed JSON and non-JSON bodies", async () => {
  const path = "/admin/api/v1/events";
  assertError(
    await api.raw("POST", path, { body: '{"event_type":', headers: { "content-type": "application/json" } }),
    400,
    "invalid_json",
  );
  assertError(await api.raw("POST", path, { body: "event_type=a.b", headers: { "content-type": "text/plain" } }), 415);
});

async function deliveriesFor(webhookId: string, n: number): Promise<string[]> {
  const rows = await db.sql<{ id: string }[]>`
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, created_at)
    SELECT ${webhookId}, gen_random_uuid(), 'batch.completed', '{"type":"batch.completed","timestamp":"t","data":{}}',
      now() - make_interval(secs => (g % 3)) -- ties on purpose: keyset order must break them by id
    FROM generate_series(1, ${n}) g
    RETURNING id`;
  return rows.map((r) => r.id);
}

test("the delivery list is newest first, paginates by cursor without gaps or repeats, and filters by status", async () => {
  const userId = crypto.randomUUID();
  const w = await postWebhook(api, userId);
  const ids = await deliveriesFor(w.id, 23);
  await db.sql`UPDATE webhook_deliveries SET status = 'exhausted' WHERE id = ANY(${ids.slice(0, 5)}::uuid[])`;
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = cursor ? `?limit=4&cursor=${cursor}` : "?limit=4";
    const reply = await api.call("GET", `${webhooksPath(userId)}/${w.id}/deliveries${query}`);
    assert.equal(reply.status, 200, reply.text);
    assert.ok(reply.body.data.length <= 4);
    seen.push(...reply.body.data.map((d: { id: string }) => d.id));
    cursor = reply.body.next_cursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 6);
  assert.equal(seen.length, 23);
  assert.deepEqual([...seen].sort(), [...ids].sort());
  const [ordered] = await db.sql<{ ids: string[] }[]>`
    SELECT array_agg(id::text ORDER BY created_at DESC, id DESC) AS ids FROM webhook_deliveries WHERE webhook_id = ${w.id}`;
  assert.deepEqual(seen, ordered.ids);

  const exhausted = await api.call("GET", `${webhooksPath(userId)}/${w.id}/deliveries?status=exhausted`);
  assert.deepEqual(exhausted.body.data.map((d: { id: string }) => d.id).sort(), ids.slice(0, 5).sort());
  assert.equal(exhausted.body.next_cursor, null);
  const first = exhausted.body.data[0];
  assert.deepEqual(Object.keys(first).sort(), [
    "attempt_count",
    "created_at",
    "event_id",
    "event_type",
    "id",
    "last_error",
    "last_status_code",
    "next_attempt_at",
    "resource_id",
    "status",
    "updated_at",
    "webhook_id",
  ]);
  const defaults = await api.call("GET", `${webhooksPath(userId)}/${w.id}/deliveries`);
  assert.equal(defaults.body.data.length, 23, "default limit is 50");
  const delivered = await api.call("GET", `${webhooksPath(userId)}/${w.id}/deliveries?status=delivered`);
  assert.deepEqual(delivered.body, { data: [], next_cursor: null });
});

const badQueries = [
  "status=bogus",
  "status=",
  "status=pending&status=failed",
  "limit=0",
  "limit=101",
  "limit=abc",
  "limit=2.5",
  "limit=-1",
  "cursor=%21%21%21",
  "cursor=bm90LWEtY3Vyc29y", // base64 of "not-a-cursor"
  `cursor=${"A".repeat(300)}`,
];

test("the delivery list refuses bad query values with a 400", async () => {
  const userId = crypto.randomUUID();
  const w = await postWebhook(api, userId);
  for (const query of badQueries) {
    assertError(await api.call("GET", `${webhooksPath(userId)}/${w.id}/deliveries?${query}`), 400);
  }
  assertError(await api.call("GET", `${webhooksPath(userId)}/${crypto.randomUUID()}/deliveries`), 404, "not_found");
});

test("a delivery's detail has its payload and its attempt history, oldest first", async () => {
  const userId = crypto.randomUUID();
  const w = await postWebhook(api, userId);
  const event = await publish({ event_type: "batch.completed", user_id: userId, data: { k: "v" } });
  const id = event.deliveries.find((d) => d.webhook_id === w.id)!.id;
  await db.sql`
    INSERT INTO webhook_delivery_attempts (delivery_id, webhook_id, attempt_number, outcome, status_code, error, duration_ms, response_body, created_at)
    VALUES (${id}, ${w.id}, 1, 'failed', 503, 'HTTP 503', 12, 'busy', now() - interval '1 minute'),
           (${id}, ${w.id}, 2, 'delivered', 200, NULL, 8, 'ok', now())`;
  await db
    .sql`UPDATE webhook_deliveries SET status = 'delivered', attempt_count = 2, last_status_code = 200 WHERE id = ${id}`;
  const reply = await api.call("GET", `/admin/api/v1/deliveries/${id}`);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.body.id, id);
  assert.equal(reply.body.user_id, userId);
  assert.equal(reply.body.webhook_id, w.id);
  assert.equal(reply.body.event_id, event.event_id);
  assert.equal(reply.body.status, "delivered");
  assert.deepEqual(reply.body.payload, { type: "batch.completed", timestamp: event.timestamp, data: { k: "v" } });
  assert.deepEqual(
    reply.body.attempts.map((
      a: { attempt_number: number; outcome: string; status_code: number },
    ) => [a.attempt_number, a.outcome, a.status_code]),
    [[1, "failed", 503], [2, "delivered", 200]],
  );
  assert.equal(reply.body.attempts[0].response_body, "busy");
  assert.equal(reply.body.attempts[0].error, "HTTP 503");
  assert.equal(reply.body.attempts[0].duration_ms, 12);
  assert.deepEqual(reply.body.request_headers, {
    "webhook-id": event.event_id,
    "webhook-timestamp": "[not stored: set at each attempt's send]",
    "webhook-signature": "v1,[redacted]",
    "webhook-version": "1",
    "content-type": "application/json",
  });
  assertError(await api.call("GET", `/admin/api/v1/deliveries/${crypto.randomUUID()}`), 404, "not_found");
  assertError(await api.call("GET", "/admin/api/v1/deliveries/42"), 400, "invalid_request");
});

async function deliveryIn(status: string, attempts = 0, enabled = true): Promise<string> {
  const userId = crypto.randomUUID();
  const w = await postWebhook(api, userId);
  const [row] = await deliveriesFor(w.id, 1);
  await db.sql`UPDATE webhook_deliveries SET status = ${status}, attempt_count = ${attempts},
    next_attempt_at = now() + interval '1 day', last_status_code = 500, last_error = 'HTTP 500' WHERE id = ${row}`;
  if (!enabled) await db.sql`UPDATE user_webhooks SET enabled = false, disabled_at = now() WHERE id = ${w.id}`;
  return row;
}

test("retry re-queues an exhausted delivery now with a fresh schedule, and wakes the dispatcher", async () => {
  const id = await deliveryIn("exhausted", 7);
  let notified = 0;
  const listener = await db.sql.listen(DELIVERY_CHANNEL, () => notified++);
  try {
    const queuedBefore = api.queued.count;
    const reply = await api.call("POST", `/admin/api/v1/deliveries/${id}/retry`);
    assert.equal(reply.status, 202, reply.text);
    assert.equal(reply.body.id, id);
    assert.equal(reply.body.status, "pending");
    assert.equal(reply.body.attempt_count, 0);
    assert.ok(Math.abs(Date.parse(reply.body.next_attempt_at) - Date.now()) < 5000);
    const [row] = await db.sql<{ status: string; attempt_count: number; due: boolean }[]>`
      SELECT status, attempt_count, next_attempt_at <= now() AS due FROM webhook_deliveries WHERE id = ${id}`;
    assert.deepEqual({ ...row }, { status: "pending", attempt_count: 0, due: true });
    assert.equal(api.queued.count, queuedBefore + 1);
    const deadline = Date.now() + 5000;
    while (notified === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(notified > 0, "NOTIFY reached listeners");
  } finally {
    await listener.unlisten();
  }
  // Now pending: a second retry is a conflict.
  assertError(await api.call("POST", `/admin/api/v1/deliveries/${id}/retry`), 409, "not_retryable");
});

test("retry re-queues a failed delivery too", async () => {
  const id = await deliveryIn("failed", 2);
  const reply = await api.call("POST", `/admin/api/v1/deliveries/${id}/retry`);
  assert.equal(reply.status, 202);
  assert.equal(reply.body.status, "pending");
  assert.equal(reply.body.attempt_count, 0);
});

test("retry refuses pending and delivered deliveries, a disabled webhook, an unknown id and a bad id", async () => {
  for (const status of ["pending", "delivered"]) {
    const id = await deliveryIn(status, 1);
    const reply = await api.call("POST", `/admin/api/v1/deliveries/${id}/retry`);
    assertError(reply, 409, "not_retryable");
    const [row] = await db.sql<
      { status: string; attempt_count: number }[]
    >`SELECT status, attempt_count FROM webhook_deliveries WHERE id = ${id}`;
    assert.deepEqual({ ...row }, { status, attempt_count: 1 }, "left as it was");
  }
  const disabled = await deliveryIn("exhausted", 7, false);
  assertError(await api.call("POST", `/admin/api/v1/deliveries/${disabled}/retry`), 409, "webhook_disabled");
  assertError(await api.call("POST", `/admin/api/v1/deliveries/${crypto.randomUUID()}/retry`), 404, "not_found");
  assertError(await api.call("POST", "/admin/api/v1/deliveries/not-an-id/retry"), 400, "invalid_request");
});

test("attempt-log retention deletes only rows older than the window", async () => {
  const userId = crypto.randomUUID();
  const w = await postWebhook(api, userId);
  const [id] = await deliveriesFor(w.id, 1);
  await db.sql`
    INSERT INTO webhook_delivery_attempts (delivery_id, webhook_id, attempt_number, outcome, created_at)
    SELECT ${id}, ${w.id}, g, 'failed', now() - make_interval(days => CASE WHEN g <= 7 THEN 40 ELSE 1 END)
    FROM generate_series(1, 10) g`;
  assert.equal(await pruneAttempts(db.sql, 30, 3), 7, "in batches of 3");
  const [{ left }] = await db.sql<
    { left: number }[]
  >`SELECT count(*)::int AS left FROM webhook_delivery_attempts WHERE delivery_id = ${id}`;
  assert.equal(left, 3);
  assert.equal(await pruneAttempts(db.sql, 30), 0);
});

test("the OpenAPI 3.1 document lists every route, with bearer security on the admin API", async () => {
  const reply = await api.call("GET", "/openapi.json");
  assert.equal(reply.status, 200);
  const doc = reply.body;
  assert.equal(doc.openapi, "3.1.0");
  const operations = Object.entries(doc.paths as Record<string, Record<string, { security?: unknown[] }>>)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
  assert.deepEqual(operations, [
    "DELETE /admin/api/v1/users/{user_id}/webhooks/{webhook_id}",
    "GET /admin/api/v1/deliveries",
    "GET /admin/api/v1/deliveries/{id}",
    "GET /admin/api/v1/live",
    "GET /admin/api/v1/users/{user_id}/deliveries/{id}",
    "GET /admin/api/v1/users/{user_id}/webhooks",
    "GET /admin/api/v1/users/{user_id}/webhooks/{webhook_id}",
    "GET /admin/api/v1/users/{user_id}/webhooks/{webhook_id}/deliveries",
    "GET /admin/api/v1/webhooks",
    "GET /dashboard",
    "GET /docs",
    "GET /healthz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /readyz",
    "PATCH /admin/api/v1/users/{user_id}/webhooks/{webhook_id}",
    "POST /admin/api/v1/deliveries/{id}/retry",
    "POST /admin/api/v1/events",
    "POST /admin/api/v1/users/{user_id}/deliveries/{id}/retry",
    "POST /admin/api/v1/users/{user_id}/webhooks",
    "POST /admin/api/v1/users/{user_id}/webhooks/{webhook_id}/recover",
    "POST /admin/api/v1/users/{user_id}/webhooks/{webhook_id}/rotate-secret",
  ]);
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: unknown[] }>>)) {
    for (const operation of Object.values(item)) {
      assert.equal(
        path.startsWith("/admin/api/") ? operation.security?.length : operation.security,
        path.startsWith("/admin/api/") ? 1 : undefined,
        path,
      );
    }
  }
  assert.deepEqual(doc.components.securitySchemes.bearer, {
    type: "http",
    scheme: "bearer",
    description: doc.components.securitySchemes.bearer.description,
  });
  for (
    const name of [
      "Webhook",
      "WebhookWithSecret",
      "CreateWebhook",
      "UpdateWebhook",
      "PublishEvent",
      "Delivery",
      "DeliveryDetail",
      "Error",
    ]
  ) {
    assert.ok(doc.components.schemas[name], name);
  }
  assert.ok(!("secret" in doc.components.schemas.Webhook.properties));
});

test("every operation in the OpenAPI document has a unique operationId, and the outbound request is under webhooks", async () => {
  const doc = (await api.call("GET", "/openapi.json")).body;
  const ids: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { operationId?: string }>>)) {
    for (const [method, operation] of Object.entries(item)) {
      assert.match(operation.operationId ?? "", /^[a-z][A-Za-z]+$/, `${method.toUpperCase()} ${path}`);
      ids.push(operation.operationId!);
    }
  }
  assert.ok(ids.length >= 18, `${ids.length} operations`);
  assert.equal(new Set(ids).size, ids.length, `duplicates in ${ids.join(", ")}`);

  const outbound = doc.webhooks?.event?.post;
  assert.ok(outbound, "webhooks.event.post");
  assert.equal(outbound.operationId, "receiveEvent");
  assert.ok(!ids.includes(outbound.operationId), "unique across paths and webhooks too");
  const headers = outbound.parameters.filter((p: { in: string }) => p.in === "header")
    .map((p: { name: string; required: boolean }) => [p.name, p.required]);
  assert.deepEqual(headers.sort(), [
    ["content-type", true],
    ["webhook-id", true],
    ["webhook-signature", true],
    ["webhook-timestamp", true],
    ["webhook-version", true],
  ]);
  const schema = outbound.requestBody.content["application/json"].schema;
  const body = schema.$ref ? doc.components.schemas[schema.$ref.split("/").at(-1)] : schema;
  assert.deepEqual(Object.keys(body.properties).sort(), ["data", "timestamp", "type"]);
  assert.deepEqual([...body.required].sort(), ["data", "timestamp", "type"]);
});

test("the docs page works offline: its script and stylesheet come from this server", async () => {
  const page = await api.app.request("/docs");
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.ok(!/(src|href)="https?:/.test(html), "nothing from another origin");
  const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(sources.sort(), ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"]);
  for (const source of sources) {
    const asset = await api.app.request(source);
    assert.equal(asset.status, 200, source);
    assert.ok((await asset.arrayBuffer()).byteLength > 10_000, source);
  }
  const js = await api.app.request("/docs/swagger-ui-bundle.js");
  assert.match(js.headers.get("content-type") ?? "", /javascript/);
  await js.body?.cancel();
  assertError(await api.call("GET", "/docs/../package.json"), 404);
  assertError(await api.call("GET", "/docs/index.html"), 404);
});

test("/metrics is Prometheus text with dwctl's series, both outcomes from zero, and no labels but known ones", async () => {
  const reply = await api.call("GET", "/metrics");
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get("content-type") ?? "", /^text\/plain/);
  const samples = new Map<string, number>();
  for (const line of reply.text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    samples.set(match[1] + (match[2] ?? ""), Number(match[3]));
    for (const [, label] of (match[2] ?? "").matchAll(/([a-z_]+)="/g)) {
      assert.ok(["outcome", "le"].includes(label), line);
    }
  }
  assert.equal(samples.get("dwctl_webhook_deliveries_claimed_total"), 0);
  assert.equal(samples.get('dwctl_webhook_deliveries_total{outcome="success"}'), 0);
  assert.equal(samples.get('dwctl_webhook_deliveries_total{outcome="failure"}'), 0);
  const [{ due }] = await db.sql<{ due: number }[]>`
    SELECT count(*)::int AS due FROM webhook_deliveries WHERE status IN ('pending','failed') AND next_attempt_at <= now()`;
  assert.equal(samples.get("dwctl_webhook_deliveries_due"), due);
  for (
    const name of [
      "dwctl_webhook_deliveries_in_flight",
      "dwctl_webhook_circuit_breaker_trips_total",
      "dwctl_webhook_deliveries_exhausted_total",
    ]
  ) {
    assert.ok(samples.has(name), name);
  }
  assert.ok(samples.has("dwctl_webhook_attempt_duration_seconds_count"));
});
