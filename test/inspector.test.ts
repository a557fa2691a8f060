// Live inspection, offline: a local WebSocket server stands in for the
// Stately inspector, the real service runs with STATEHOOK_INSPECT pointing at
// it (same runtime as the test), delivers a few events, and the stream must
// show the dispatcher, its result writer, a webhook actor and delivery actors
// (children of the dispatcher's delivery pool, in the same actor system)
// changing state, with no secret, signature or payload in it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import type { DeliveryRow } from "../src/db/delivery-row.ts";
import { createDelivery } from "./support/dwctl-reference.ts";
import { createWebhook } from "../src/db/webhooks.ts";
import { redact, startInspection } from "../src/start/inspect.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { type Receiver, startReceiver } from "./support/receiver.ts";
import { startService, until } from "./support/service.ts";

type Inspected = {
  type: string;
  sessionId: string;
  name?: string;
  parentId?: string;
  snapshot?: { value?: unknown; status?: string; context?: Record<string, unknown> };
  event?: { type: string };
};

let db: TestDatabase;
let receiver: Receiver;
let inspector: WebSocketServer;
let inspectorUrl: string;
const frames: string[] = [];

before(async () => {
  db = await testDatabase();
  receiver = await startReceiver((req, res) => {
    res.statusCode = req.path.includes("/failing") ? 500 : 200;
    res.end("thanks");
  });
  inspector = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => inspector.once("listening", () => resolve()));
  inspectorUrl = `ws://127.0.0.1:${(inspector.address() as AddressInfo).port}`;
  inspector.on(
    "connection",
    (socket: { on(event: "message", listener: (data: unknown) => void): void }) =>
      socket.on("message", (data) => frames.push(String(data))),
  );
});
after(async () => {
  for (const client of inspector.clients) client.terminate();
  await new Promise<void>((resolve) => inspector.close(() => resolve()));
  await receiver.close();
  await db.close();
});

test("the running service streams its actors to a WebSocket inspector, redacted", async () => {
  const marker = `payload-marker-${crypto.randomUUID()}`;
  const ok = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/ok` });
  const failing = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/failing` });
  const service = await startService({
    env: { DATABASE_URL: db.url, STATEHOOK_INSPECT: inspectorUrl, STATEHOOK_ALLOW_PRIVATE_TARGETS: "true" },
  });
  try {
    await until(() => inspector.clients.size > 0, 15_000, "the inspector connection");
    const deliveries: DeliveryRow[] = [];
    for (const webhook of [ok.webhook, ok.webhook, failing.webhook]) {
      deliveries.push(
        await createDelivery(db.sql, {
          webhookId: webhook.id,
          eventId: crypto.randomUUID(),
          eventType: "batch.completed",
          payload: {
            type: "batch.completed",
            timestamp: new Date().toISOString(),
            data: { marker, note: "whsec_not_a_real_one" },
          },
        }),
      );
    }
    await receiver.waitFor(3);
    const final = (d: { id: string }) =>
      parse().some((e) =>
        e.type === "@xstate.snapshot" && e.sessionId === sessionOfDelivery(d.id) && e.snapshot?.status === "done"
      );
    await until(() => deliveries.every(final), 15_000, "each delivery actor's final snapshot");
    await until(
      () =>
        parse().some((e) =>
          e.type === "@xstate.snapshot" && e.sessionId === sessionOf("writer") &&
          JSON.stringify(e.snapshot?.value).includes('"writing":"idle"') &&
          (e.snapshot?.context?.results as { count?: number } | undefined)?.count === 0 &&
          e.event?.type === "xstate.done.actor.record"
        ),
      15_000,
      "the results written",
    );

    const events = parse();
    const names = new Map(events.filter((e) => e.type === "@xstate.actor").map((e) => [e.sessionId, e.name]));
    const values = (name: string) =>
      events.filter((e) => e.type === "@xstate.snapshot" && names.get(e.sessionId) === name).map((e) =>
        JSON.stringify(e.snapshot?.value)
      );
    const deliveryValues = (id: string) =>
      events.filter((e) => e.type === "@xstate.snapshot" && e.sessionId === sessionOfDelivery(id)).map((e) =>
        JSON.stringify(e.snapshot?.value)
      );

    // The tree: the dispatcher at the root, readable ids below it.
    const root = events.find((e) => e.type === "@xstate.actor" && e.name === "dispatcher");
    assert.ok(root, "the dispatcher actor is announced");
    const webhookActor = events.find((e) => e.type === "@xstate.actor" && e.name === `webhook:${ok.webhook.id}`);
    assert.ok(webhookActor, "a webhook actor is announced by its readable id");
    assert.equal(webhookActor.parentId, root.sessionId);
    // Delivery actors are named after their row (delivery:<row id>) and are
    // children of the dispatcher's delivery pool, itself announced as "deliveries".
    const pool = events.find((e) => e.type === "@xstate.actor" && e.name === "deliveries");
    assert.ok(pool, "the delivery pool is announced");
    assert.equal(pool.parentId, root.sessionId);
    for (const d of deliveries) {
      const actor = events.find((e) => e.type === "@xstate.actor" && e.name === `delivery:${d.id}`);
      assert.ok(actor, `the actor delivering ${d.id} is announced as delivery:${d.id}`);
      assert.equal(
        actor.sessionId,
        sessionOfDelivery(d.id),
        `delivery:${d.id} is the actor whose context carries row ${d.id}`,
      );
      assert.equal(actor.parentId, pool.sessionId);
    }

    // State changes arrive for each kind of actor.
    const dispatcherValues = values("dispatcher");
    assert.ok(
      dispatcherValues.some((v) => v.includes('"claiming"')),
      `dispatcher claims: ${dispatcherValues.join(" ")}`,
    );
    const writer = events.find((e) => e.type === "@xstate.actor" && e.name === "writer");
    assert.equal(writer?.parentId, root.sessionId, "the result writer is the dispatcher's child");
    assert.ok(values("writer").some((v) => v.includes('"flushing"')), "the result writer writes results");
    assert.deepEqual([...new Set(deliveryValues(deliveries[0].id))], ['"claimed"', '"sending"', '"delivered"']);
    assert.deepEqual([...new Set(deliveryValues(deliveries[2].id))], ['"claimed"', '"sending"', '"failed"']);
    assert.ok(
      values(`webhook:${failing.webhook.id}`).some((v) => v.includes('"breaker":"closed"')),
      "the webhook actor's state is streamed",
    );
    assert.ok(
      events.some((e) => e.type === "@xstate.event" && e.event?.type === "CLAIMED"),
      "events between actors are streamed",
    );

    // Nothing secret or private left the process.
    const stream = frames.join("\n");
    for (const secret of [ok.secret, failing.secret]) {
      assert.ok(!stream.includes(secret), "a webhook secret was streamed");
      assert.ok(!stream.includes(secret.slice("whsec_".length)), "a webhook secret's key was streamed");
    }
    assert.ok(!stream.includes("whsec_"), "something secret-shaped was streamed");
    assert.ok(!stream.includes(marker), "a payload was streamed");
    for (const request of receiver.received) {
      assert.ok(!stream.includes(request.headers["webhook-signature"].slice(3)), "a signature was streamed");
    }
    assert.ok(stream.includes('"payload":"[redacted]"'), "payloads are shown as redacted");
    assert.ok(stream.includes('"webhook-signature":"[redacted]"'), "signed headers are shown as redacted");
  } finally {
    await service.stop();
  }
});

function parse(): Inspected[] {
  return frames.map((f) => JSON.parse(f) as Inspected);
}

/** The session of the delivery actor that carried this row, found by the row in its context (not by its name). */
function sessionOfDelivery(deliveryId: string): string | undefined {
  return parse().find((e) =>
    e.type === "@xstate.snapshot" &&
    (e.snapshot?.context as { delivery?: { id?: string } } | undefined)?.delivery?.id === deliveryId
  )?.sessionId;
}

function sessionOf(name: string): string | undefined {
  return parse().find((e) => e.type === "@xstate.actor" && e.name === name)?.sessionId;
}

test("redact withholds payloads, bodies, header values and secret-shaped strings, and keeps the rest", () => {
  const event = {
    type: "@xstate.snapshot",
    snapshot: {
      value: "sending",
      context: {
        delivery: { id: "d1", payload: '{"data":{"card":"4111"}}', url: "https://x.example/hook" },
        request: {
          url: "https://x.example/hook",
          headers: { "webhook-id": "e1", "webhook-signature": "v1,abc=" },
          body: '{"data":1}',
        },
        outcome: { status: "failed", responseBody: "echo: 4111", error: "HTTP 500", statusCode: 500 },
        note: "rotated to whsec_c2VjcmV0",
        nothing: null,
      },
    },
  };
  const out = redact(event);
  assert.deepEqual(out, {
    type: "@xstate.snapshot",
    snapshot: {
      value: "sending",
      context: {
        delivery: { id: "d1", payload: "[redacted]", url: "https://x.example/hook" },
        request: {
          url: "https://x.example/hook",
          headers: { "webhook-id": "[redacted]", "webhook-signature": "[redacted]" },
          body: "[redacted]",
        },
        outcome: { status: "failed", responseBody: "[redacted]", error: "HTTP 500", statusCode: 500 },
        note: "[redacted]",
        nothing: null,
      },
    },
  });
  assert.equal(event.snapshot.context.delivery.payload, '{"data":{"card":"4111"}}', "the original is untouched");
});

test("inspection off is nothing at all", async () => {
  assert.equal(await startInspection(undefined), undefined);
});
