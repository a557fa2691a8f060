// The batching publisher: publishes that arrive while a statement is on its
// way share the next one, and each caller still gets exactly what a publish
// on its own would have given it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  createPublisher,
  type NewEvent,
  type Publish,
  type PublishedEvent,
  publishEvents,
  type PublishResult,
} from "../src/db/events.ts";
import { createWebhook } from "../src/db/webhooks.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";

let db: TestDatabase;
before(async () => (db = await testDatabase()));
after(async () => await db.close());

async function userWithWebhooks(count: number) {
  const userId = crypto.randomUUID();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await createWebhook(db.sql, { userId, url: `https://example.com/hook/${i}` })).webhook.id);
  }
  return { userId, webhookIds: ids.sort() };
}

/** The publish went through (these publishers have no byte bound, so it always does). */
function queued(result: PublishResult): PublishedEvent {
  assert.ok(!("tooLarge" in result), JSON.stringify(result));
  return result;
}

/** A publisher whose every publish is expected to go through. */
const unbounded = (publish: Publish) => async (event: NewEvent) => queued(await publish(event));

/** Counts the statements the publisher sends, by wrapping the pool's tagged template. */
function countingSql() {
  let statements = 0;
  const counted = new Proxy(db.sql, {
    apply(target, self, args) {
      statements++;
      return Reflect.apply(target, self, args);
    },
  });
  return { sql: counted, statements: () => statements };
}

test("concurrent publishes share statements, and each gets its own event id and deliveries", async () => {
  const a = await userWithWebhooks(2);
  const b = await userWithWebhooks(1);
  const { sql, statements } = countingSql();
  const publish = unbounded(createPublisher(sql));
  const events: NewEvent[] = Array.from({ length: 40 }, (_, i) => ({
    eventType: "batch.completed",
    data: { i },
    userId: i % 2 === 0 ? a.userId : b.userId,
  }));
  const published = await Promise.all(events.map(publish));

  assert.ok(statements() < events.length / 4, `${statements()} statements for ${events.length} publishes`);
  assert.equal(new Set(published.map((p) => p.eventId)).size, events.length, "one event id each");
  for (const [i, p] of published.entries()) {
    const expected = i % 2 === 0 ? a.webhookIds : b.webhookIds;
    assert.deepEqual(p.deliveries.map((d) => d.webhook_id), expected, `event ${i}`);
    assert.deepEqual(p.duplicateWebhookIds, []);
    const rows = await db.sql<{ webhook_id: string; data: { i: number } }[]>`
      SELECT webhook_id, payload->'data' AS data FROM webhook_deliveries WHERE event_id = ${p.eventId} ORDER BY webhook_id`;
    assert.deepEqual(rows.map((r) => [r.webhook_id, r.data.i]), expected.map((w) => [w, i]), `rows of event ${i}`);
  }
});

test("within one batch, a resource id still queues one delivery per webhook; the other publishes say so", async () => {
  const u = await userWithWebhooks(2);
  const resourceId = crypto.randomUUID();
  const publish = unbounded(createPublisher(db.sql));
  const results = await Promise.all(
    Array.from({ length: 6 }, () => publish({ eventType: "batch.completed", data: {}, userId: u.userId, resourceId })),
  );
  const queued = results.flatMap((r) => r.deliveries.map((d) => d.webhook_id)).sort();
  assert.deepEqual(queued, u.webhookIds, "each webhook got exactly one delivery");
  for (const r of results) {
    assert.deepEqual(
      [...r.deliveries.map((d) => d.webhook_id), ...r.duplicateWebhookIds].sort(),
      u.webhookIds,
      "every publish accounts for every matching webhook",
    );
  }
});

test("an event the database rejects fails only its own publish", async () => {
  const u = await userWithWebhooks(1);
  const publish = unbounded(createPublisher(db.sql));
  const good = Array.from(
    { length: 5 },
    (_, i) => publish({ eventType: "batch.completed", data: { i }, userId: u.userId }),
  );
  const bad = publish({ eventType: "batch.completed", data: {}, userId: "not-a-uuid" });
  const settled = await Promise.allSettled([...good, bad]);
  assert.deepEqual(settled.map((s) => s.status), [
    "fulfilled",
    "fulfilled",
    "fulfilled",
    "fulfilled",
    "fulfilled",
    "rejected",
  ]);
  for (const s of settled.slice(0, 5)) {
    assert.equal((s as PromiseFulfilledResult<PublishedEvent>).value.deliveries.length, 1);
  }
});

test("a lone publish matches nothing: no deliveries, no error", async () => {
  const published = await unbounded(createPublisher(db.sql))({
    eventType: "nobody.listens",
    data: {},
    userId: crypto.randomUUID(),
  });
  assert.deepEqual(published.deliveries, []);
  assert.deepEqual(published.duplicateWebhookIds, []);
});

test("a publish over its byte bound writes nothing and says why; the rest of its batch still goes", async () => {
  const u = await userWithWebhooks(3);
  const small = { eventType: "batch.completed", data: { x: "a" }, userId: u.userId };
  const big = { eventType: "batch.completed", data: { x: "é".repeat(1000) }, userId: u.userId };
  const [smallResult, bigResult] = await publishEvents(db.sql, [small, big], { maxBytes: 3000 });
  assert.deepEqual(queued(smallResult).deliveries.map((d) => d.webhook_id), u.webhookIds);
  assert.ok("tooLarge" in bigResult);
  const { payloadBytes, webhooks, maxBytes } = bigResult.tooLarge;
  assert.deepEqual({ webhooks, maxBytes }, { webhooks: 3, maxBytes: 3000 });
  assert.ok(payloadBytes > 2000, `${payloadBytes}: é is two bytes in UTF-8`);
  const [{ rows }] = await db.sql<{ rows: number }[]>`
    SELECT count(*)::int AS rows FROM webhook_deliveries WHERE webhook_id = ANY(${u.webhookIds}::uuid[])`;
  assert.equal(rows, 3, "only the small event's deliveries");
  // Exactly at the bound is allowed.
  const [atBound] = await publishEvents(db.sql, [big], { maxBytes: 3 * payloadBytes });
  assert.equal(queued(atBound).deliveries.length, 3);
});
