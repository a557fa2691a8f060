// The operator's listings and recover, through the real Hono app over a real
// database, with no dispatcher running so every row stays where the test put
// it: every webhook with its breaker state and latest attempt, the delivery
// search with its filters and window, keyset paging of both, and recover's
// window and state rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DELIVERY_CHANNEL } from "../src/db/migrations.ts";
import { apiHarness, assertError, postWebhook, WEBHOOK_FIELDS, webhooksPath } from "./support/api-client.ts";
import { until } from "./support/service.ts";

const { db, api } = await apiHarness();

/** Inserts deliveries directly, `createdAt` as SQL, e.g. "now() - interval '1 hour'". */
async function deliveries(
  webhookId: string,
  n: number,
  fields: { status?: string; eventType?: string; createdAt?: string } = {},
): Promise<string[]> {
  const rows = await db.sql<{ id: string }[]>`
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, status, attempt_count, created_at)
    SELECT ${webhookId}, gen_random_uuid(), ${fields.eventType ?? "batch.completed"},
      '{"type":"batch.completed","timestamp":"t","data":{}}', ${fields.status ?? "pending"},
      ${fields.status === "pending" || !fields.status ? 0 : 3},
      ${db.sql.unsafe(fields.createdAt ?? "now()")} - make_interval(secs => (g % 3))
    FROM generate_series(1, ${n}) g
    RETURNING id`;
  return rows.map((r) => r.id);
}

/** Follows next_cursor from the first page to the last; returns every id and the page count. */
async function everyPage(path: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  const join = path.includes("?") ? "&" : "?";
  do {
    const reply = await api.call("GET", `${path}${join}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(reply.status, 200, reply.text);
    assert.ok(reply.body.data.length <= limit);
    ids.push(...reply.body.data.map((d: { id: string }) => d.id));
    cursor = reply.body.next_cursor;
    pages++;
  } while (cursor);
  return { ids, pages };
}

/** GET `path` with each query is a 400 in the API's error shape. */
async function assertEachRefused(path: string, queries: string[]) {
  for (const query of queries) assertError(await api.call("GET", `${path}?${query}`), 400);
}

test("every webhook, newest first, paged, with breaker state and latest attempt, and never a secret", async () => {
  const alice = crypto.randomUUID();
  const made = [];
  for (let i = 0; i < 7; i++) made.push(await postWebhook(api, alice));
  const [quiet, broken, busy] = made;
  await db.sql`UPDATE user_webhooks SET enabled = false, disabled_at = now(), consecutive_failures = 10
    WHERE id = ${broken.id}`;
  const [d1] = await deliveries(busy.id, 1);
  const [d2] = await deliveries(broken.id, 1);
  // Two attempts of busy recorded in one batch (same created_at): the later row is the latest.
  await db.sql`
    INSERT INTO webhook_delivery_attempts (delivery_id, webhook_id, attempt_number, outcome, status_code, created_at)
    VALUES (${d1}, ${busy.id}, 1, 'failed', 503, now() - interval '1 minute'),
           (${d1}, ${busy.id}, 2, 'failed', 500, now()),
           (${d1}, ${busy.id}, 3, 'delivered', 204, now()),
           (${d2}, ${broken.id}, 1, 'exhausted', NULL, now() - interval '2 minutes')`;

  const { ids, pages } = await everyPage(`/admin/api/v1/webhooks?user_id=${alice}`, 3);
  assert.equal(pages, 3);
  assert.deepEqual(ids, made.map((w) => w.id).reverse(), "newest first, no gaps or repeats");

  const reply = await api.call("GET", `/admin/api/v1/webhooks?user_id=${alice}`);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.body.next_cursor, null);
  const byId = new Map(reply.body.data.map((w: { id: string }) => [w.id, w]));
  // deno-lint-ignore no-explicit-any -- JSON reply
  const item = (id: string) => byId.get(id) as any;
  assert.deepEqual(
    Object.keys(item(quiet.id)).sort(),
    [...WEBHOOK_FIELDS, "consecutive_failures", "last_attempt_at", "last_status_code"].sort(),
  );
  assert.equal(item(quiet.id).breaker_state, "closed");
  assert.equal(item(quiet.id).last_attempt_at, null);
  assert.equal(item(quiet.id).last_status_code, null);
  assert.equal(item(broken.id).breaker_state, "open");
  assert.equal(item(broken.id).consecutive_failures, 10);
  assert.equal(item(broken.id).last_status_code, null, "the latest attempt had no HTTP answer");
  assert.ok(Date.parse(item(broken.id).last_attempt_at) < Date.now() - 60_000);
  assert.equal(item(busy.id).last_status_code, 204);
  assert.ok(Math.abs(Date.parse(item(busy.id).last_attempt_at) - Date.now()) < 60_000);
  for (const w of made) assert.ok(!reply.text.includes(w.secret), "no secret in the listing");
  assert.ok(!reply.text.includes("whsec_"));

  const enabled = await api.call("GET", `/admin/api/v1/webhooks?user_id=${alice}&enabled=true`);
  assert.equal(enabled.body.data.length, 6);
  assert.ok(enabled.body.data.every((w: { enabled: boolean }) => w.enabled));
  const disabled = await api.call("GET", `/admin/api/v1/webhooks?user_id=${alice}&enabled=false`);
  assert.deepEqual(disabled.body.data.map((w: { id: string }) => w.id), [broken.id]);
  const bob = crypto.randomUUID();
  const bobs = await postWebhook(api, bob);
  const all = await everyPage("/admin/api/v1/webhooks", 100);
  assert.ok(all.ids.includes(bobs.id) && all.ids.includes(quiet.id), "across users without user_id");
});

test("the webhook listing's latest-attempt lookup reads the attempt log's webhook index", async () => {
  const plan = await db.sql.begin(async (tx) => {
    await tx`SET LOCAL enable_seqscan = off`;
    return await tx.unsafe(`EXPLAIN
      SELECT a.created_at, a.status_code FROM webhook_delivery_attempts a
      WHERE a.webhook_id = '${crypto.randomUUID()}' ORDER BY a.id DESC LIMIT 1`);
  });
  const text = plan.map((row) => Object.values(row)[0]).join("\n");
  assert.match(text, /Index Scan Backward using idx_webhook_delivery_attempts_webhook/, text);
});

const badWebhookQueries = [
  "user_id=alice",
  "enabled=yes",
  "limit=0",
  "limit=101",
  "cursor=%21%21",
  "cursor=bm90LWEtY3Vyc29y",
];

test("the webhook listing refuses bad query values with a 400", async () => {
  await assertEachRefused("/admin/api/v1/webhooks", badWebhookQueries);
});

test("the delivery search filters by webhook, status, event type and created_at window, and pages", async () => {
  const userId = crypto.randomUUID();
  const a = await postWebhook(api, userId);
  const b = await postWebhook(api, userId);
  const recentA = await deliveries(a.id, 11);
  const oldA = await deliveries(a.id, 4, { createdAt: "now() - interval '2 days'" });
  const failedB = await deliveries(b.id, 3, { status: "failed", eventType: "batch.failed" });
  const exhaustedB = await deliveries(b.id, 2, { status: "exhausted" });

  const byWebhook = await everyPage(`/admin/api/v1/deliveries?webhook_id=${a.id}`, 4);
  assert.equal(byWebhook.pages, 4);
  assert.deepEqual([...byWebhook.ids].sort(), [...recentA, ...oldA].sort());
  const [ordered] = await db.sql<{ ids: string[] }[]>`
    SELECT array_agg(id::text ORDER BY created_at DESC, id DESC) AS ids FROM webhook_deliveries WHERE webhook_id = ${a.id}`;
  assert.deepEqual(byWebhook.ids, ordered.ids, "newest first, ties broken by id");

  const ids = async (query: string) => {
    const reply = await api.call("GET", `/admin/api/v1/deliveries?${query}`);
    assert.equal(reply.status, 200, reply.text);
    return reply.body.data.map((d: { id: string }) => d.id).sort();
  };
  assert.deepEqual(await ids(`webhook_id=${b.id}&status=failed`), [...failedB].sort());
  assert.deepEqual(await ids(`webhook_id=${b.id}&event_type=batch.failed`), [...failedB].sort());
  assert.deepEqual(await ids(`webhook_id=${b.id}&status=exhausted`), [...exhaustedB].sort());
  const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
  assert.deepEqual(await ids(`webhook_id=${a.id}&since=${dayAgo}`), [...recentA].sort());
  assert.deepEqual(await ids(`webhook_id=${a.id}&until=${dayAgo}`), [...oldA].sort());
  const plusTwo = dayAgo.replace("Z", "+02:00"); // the same wall clock two hours east: two hours earlier
  assert.deepEqual(await ids(`webhook_id=${a.id}&until=${encodeURIComponent(plusTwo)}`), [...oldA].sort());
  assert.deepEqual(await ids(`webhook_id=${a.id}&since=${dayAgo}&until=${dayAgo}`), []);

  // Across webhooks: every failed delivery of both, and nothing of other tests' webhooks beyond the filter.
  const failedEverywhere = await ids("status=failed&limit=100");
  for (const id of failedB) assert.ok(failedEverywhere.includes(id));
  assert.ok(!failedEverywhere.some((id: string) => recentA.includes(id)));
  const first = (await api.call("GET", `/admin/api/v1/deliveries?webhook_id=${b.id}&limit=1`)).body.data[0];
  assert.equal(first.webhook_id, b.id);
  assert.ok(!("payload" in first), "the search lists summaries, as the per-webhook list does");
});

const badDeliveryQueries = [
  "since=yesterday",
  "since=2025-01-01",
  "since=2025-01-01T00:00:00", // no offset: which time zone?
  "until=2025-13-01T00:00:00Z",
  "since=0000-01-01T00:00:00Z", // a year Postgres refuses: a 400, not a 500
  "until=9999-12-31T23:59:59-23:59",
  "since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z",
  "webhook_id=7",
  "status=lost",
  "event_type=nodot",
  "limit=abc",
  "cursor=%21%21",
];

test("the delivery search refuses bad query values with a 400 JSON error", async () => {
  await assertEachRefused("/admin/api/v1/deliveries", badDeliveryQueries);
});

test("recover re-queues the webhook's failed and exhausted deliveries created in the window, and wakes", async () => {
  const userId = crypto.randomUUID();
  const w = await postWebhook(api, userId);
  const other = await postWebhook(api, userId);
  const inFailed = await deliveries(w.id, 3, { status: "failed", createdAt: "now() - interval '1 hour'" });
  const inExhausted = await deliveries(w.id, 2, { status: "exhausted", createdAt: "now() - interval '1 hour'" });
  const inDelivered = await deliveries(w.id, 2, { status: "delivered", createdAt: "now() - interval '1 hour'" });
  const tooOld = await deliveries(w.id, 2, { status: "exhausted", createdAt: "now() - interval '3 days'" });
  const tooNew = await deliveries(w.id, 1, { status: "failed", createdAt: "now() + interval '1 hour'" });
  const otherWebhook = await deliveries(other.id, 2, { status: "exhausted", createdAt: "now() - interval '1 hour'" });
  await db.sql`UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 day'
    WHERE webhook_id IN (${w.id}, ${other.id})`;

  let notified = 0;
  const listener = await db.sql.listen(DELIVERY_CHANNEL, () => notified++);
  try {
    const queuedBefore = api.queued.count;
    const since = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const reply = await api.call("POST", `${webhooksPath(userId)}/${w.id}/recover`, { since, until: to });
    assert.equal(reply.status, 202, reply.text);
    assert.deepEqual(reply.body, { requeued: 5 });
    assert.equal(api.queued.count, queuedBefore + 1, "woke the dispatcher in process");
    await until(() => notified > 0, 5000, "the NOTIFY to reach listeners");
  } finally {
    await listener.unlisten();
  }
  const rows = await db.sql<{ id: string; status: string; attempt_count: number; due: boolean }[]>`
    SELECT id, status, attempt_count, next_attempt_at <= now() AS due FROM webhook_deliveries
    WHERE webhook_id IN (${w.id}, ${other.id})`;
  const row = new Map(rows.map((r) => [r.id, r]));
  for (const id of [...inFailed, ...inExhausted]) {
    assert.deepEqual({ ...row.get(id)!, id: undefined }, {
      id: undefined,
      status: "pending",
      attempt_count: 0,
      due: true,
    });
  }
  for (const id of inDelivered) assert.equal(row.get(id)!.status, "delivered");
  for (const id of tooOld) assert.deepEqual([row.get(id)!.status, row.get(id)!.due], ["exhausted", false]);
  for (const id of tooNew) assert.deepEqual([row.get(id)!.status, row.get(id)!.due], ["failed", false]);
  for (const id of otherWebhook) assert.equal(row.get(id)!.status, "exhausted");

  // Without until the window runs to now; the future row stays out. Nothing left: 0, and no wake.
  const queued = api.queued.count;
  const again = await api.call("POST", `${webhooksPath(userId)}/${w.id}/recover`, {
    since: new Date(Date.now() - 4 * 86_400_000).toISOString(),
  });
  assert.deepEqual(again.body, { requeued: 2 }, "the older ones, now in the window");
  const [future] = await db.sql<{ status: string }[]>`SELECT status FROM webhook_deliveries WHERE id = ${tooNew[0]}`;
  assert.equal(future.status, "failed", "created after now: outside the default window");
  const none = await api.call("POST", `${webhooksPath(userId)}/${w.id}/recover`, { since: "2020-01-01T00:00:00Z" });
  assert.equal(none.status, 202);
  assert.deepEqual(none.body, { requeued: 0 });
  assert.equal(api.queued.count, queued + 1, "no wake for nothing");
});

test("recover refuses a bad or missing since, an unknown webhook and a disabled one", async () => {
  const userId = crypto.randomUUID();
  const w = await postWebhook(api, userId);
  const path = `${webhooksPath(userId)}/${w.id}/recover`;
  for (
    const body of [
      {},
      { since: "yesterday" },
      { since: 1700000000 },
      { since: "2025-01-01" },
      { since: "0000-01-01T00:00:00Z" },
      { since: "2025-01-01T00:00:00Z", until: "9999-12-31T23:59:59-23:59" },
      { since: "2025-02-01T00:00:00Z", until: "2025-01-01T00:00:00Z" },
      { since: "2025-01-01T00:00:00Z", until: "soon" },
      { since: "2025-01-01T00:00:00Z", status: "failed" },
    ]
  ) {
    assertError(await api.call("POST", path, body), 400, "invalid_request");
  }
  assertError(
    await api.raw("POST", path, { body: "{", headers: { "content-type": "application/json" } }),
    400,
    "invalid_json",
  );
  const since = "2025-01-01T00:00:00Z";
  assertError(
    await api.call("POST", `${webhooksPath(userId)}/${crypto.randomUUID()}/recover`, { since }),
    404,
    "not_found",
  );
  assertError(
    await api.call("POST", `${webhooksPath(crypto.randomUUID())}/${w.id}/recover`, { since }),
    404,
    "not_found",
  );
  await api.call("PATCH", `${webhooksPath(userId)}/${w.id}`, { enabled: false });
  assertError(await api.call("POST", path, { since }), 409, "webhook_disabled");
});
