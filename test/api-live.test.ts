// The live view's event stream over real HTTP: the real dispatcher over a
// real Postgres sends to real receivers on 127.0.0.1, the API is served on
// 127.0.0.1, and a fetch() stream reader (what the page uses) reads the
// events. Snapshots follow the deliveries, never carry a payload or secret,
// come at most one per interval, pings arrive, and a viewer who leaves
// detaches the feed from the actor system.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createWebhook } from "../src/db/webhooks.ts";
import { createDelivery } from "./support/dwctl-reference.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { type Receiver, startReceiver } from "./support/receiver.ts";
import { until } from "./support/service.ts";
import { apiClient, assertError, TOKEN } from "./support/api-client.ts";
import { serveApiWithDispatcher, type ServedApi } from "./support/served-api.ts";

const INTERVAL_MS = 100;
const PING_MS = 300;

let db: TestDatabase;
let receiver: Receiver;
let served: ServedApi;

before(async () => {
  db = await testDatabase({ max: 20 });
  receiver = await startReceiver((req, res) => {
    res.statusCode = req.path.includes("/failing") ? 500 : 200;
    // Slower than a snapshot interval, so snapshots see sends in flight.
    setTimeout(() => res.end("thanks"), req.path.includes("/slow") ? 150 : 0);
  });
  served = await serveApiWithDispatcher(db.sql, { STATEHOOK_RETRY_SCHEDULE: "0,3600" }, (dispatcher) => ({
    live: { feed: dispatcher.live, intervalMs: INTERVAL_MS, pingMs: PING_MS },
  }));
});
after(async () => {
  await served.stop();
  await receiver.close();
  await db.close();
});

type Frame = { kind: "snapshot"; data: string; receivedAt: number } | { kind: "ping" };

/** A viewer: reads the stream as the page does, keeping every frame and the raw text. */
async function view() {
  const controller = new AbortController();
  const response = await fetch(`${served.base}/admin/api/v1/live`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const frames: Frame[] = [];
  let raw = "";
  let failure: unknown;
  const reading = (async () => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        raw += value;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block === ": ping") {
            frames.push({ kind: "ping" });
            continue;
          }
          const lines = block.split("\n");
          assert.equal(lines[0], "event: snapshot", block);
          const data = lines.slice(1).map((line) => line.replace(/^data: /, "")).join("\n");
          frames.push({ kind: "snapshot", data, receivedAt: Date.now() });
        }
      }
    } catch (error) {
      // close() aborts the stream; anything else (a malformed frame) fails the test at close().
      if (!controller.signal.aborted) failure = error;
    }
  })();
  const snapshots = () =>
    frames.flatMap((f) => f.kind === "snapshot" ? [JSON.parse(f.data)] : []) as {
      at: string;
      // deno-lint-ignore no-explicit-any -- read field by field
      machines: any;
      // deno-lint-ignore no-explicit-any
      webhooks: Record<string, any>;
      totals: { delivered: number; failed: number; exhausted: number };
    }[];
  return {
    frames,
    raw: () => raw,
    snapshots,
    latest: () => snapshots().at(-1),
    async close() {
      controller.abort();
      await reading;
      if (failure !== undefined) throw failure;
    },
  };
}

async function enqueue(webhookId: string, n: number, marker: string) {
  for (let i = 0; i < n; i++) {
    await createDelivery(db.sql, {
      webhookId,
      eventId: crypto.randomUUID(),
      eventType: "batch.completed",
      payload: {
        type: "batch.completed",
        timestamp: new Date().toISOString(),
        data: { marker, note: "whsec_not_a_real_one", i },
      },
    });
  }
}

test("a viewer sees snapshots whose counts follow the deliveries, with no payload or secret in them", async () => {
  const marker = `payload-marker-${crypto.randomUUID()}`;
  const ok = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/ok` });
  const failing = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/failing` });
  const viewer = await view();
  try {
    const first = await until(() => viewer.latest(), 10_000, "the first snapshot");
    assert.equal(typeof first.machines.dispatcher.in_flight, "number");
    assert.ok(first.machines.dispatcher.state.intake, "the dispatcher's state value");
    assert.ok(first.machines["result-writer"].state.writing, "the result writer's state value");
    assert.equal(typeof first.machines["result-writer"].unwritten, "number");
    const before = first.totals;

    const received = receiver.received.length;
    await enqueue(ok.webhook.id, 3, marker);
    await enqueue(failing.webhook.id, 2, marker);
    await receiver.waitFor(received + 5);
    const seen = await until(
      () => {
        const s = viewer.latest()!;
        return s.totals.delivered >= before.delivered + 3 && s.totals.failed >= before.failed + 2 &&
          s.webhooks[ok.webhook.id]?.last_status_code === 200 &&
          s.webhooks[failing.webhook.id]?.consecutive_failures === 2 && s;
      },
      10_000,
      "a snapshot with the deliveries counted",
    );
    assert.equal(seen.webhooks[ok.webhook.id].state, "closed");
    assert.equal(seen.webhooks[failing.webhook.id].last_status_code, 500);
    assert.equal(seen.machines.webhook["breaker.closed"] >= 2, true, JSON.stringify(seen.machines));
    assert.ok(viewer.snapshots().some((s) => Object.values(s.webhooks).some((w) => w.sent_per_sec > 0)));
    assert.deepEqual(Object.keys(seen.webhooks[ok.webhook.id]).sort(), [
      "consecutive_failures",
      "in_flight",
      "last_status_code",
      "paused",
      "sent_per_sec",
      "state",
      "value",
    ]);
    await until(() => viewer.frames.some((f) => f.kind === "ping"), 10_000, "a ping");
  } finally {
    await viewer.close();
  }
  const raw = viewer.raw();
  for (const secret of [ok.secret, failing.secret, marker, "whsec_", "webhook-signature", TOKEN]) {
    assert.ok(!raw.includes(secret), `the stream never carries ${secret.slice(0, 12)}…`);
  }
});

test("snapshots come at most one per interval while deliveries run, and a viewer who leaves is detached", async () => {
  const slow = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/slow` });
  // The previous test's viewer leaves asynchronously.
  await until(() => served.dispatcher.live.watching() === 0, 10_000, "no viewer left from before");
  const viewer = await view();
  const other = await view();
  try {
    await until(() => viewer.latest() && other.latest(), 10_000, "both viewers' first snapshots");
    assert.equal(served.dispatcher.live.watching(), 2);
    const received = receiver.received.length;
    await enqueue(slow.webhook.id, 60, "rate");
    await receiver.waitFor(received + 60);
    await until(
      () => viewer.snapshots().some((s) => s.webhooks[slow.webhook.id]?.in_flight > 0),
      10_000,
      "a snapshot with sends in flight",
    );
  } finally {
    await other.close();
    await until(() => served.dispatcher.live.watching() === 1, 10_000, "the first viewer to leave");
    await viewer.close();
  }
  await until(() => served.dispatcher.live.watching() === 0, 10_000, "the feed to detach");
  const times = viewer.snapshots().map((s) => Date.parse(s.at));
  assert.ok(times.length >= 3, `${times.length} snapshots`);
  const window = times.at(-1)! - times[0];
  assert.ok(
    times.length <= window / INTERVAL_MS + 1,
    `${times.length} snapshots in ${window} ms at one per ${INTERVAL_MS} ms`,
  );
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= INTERVAL_MS, `gap ${i}`);
});

test("the stream needs the bearer token, and answers 503 where no dispatcher runs", async () => {
  const response = await fetch(`${served.base}/admin/api/v1/live`);
  assert.equal(response.status, 401);
  await response.body?.cancel();
  const withoutDispatcher = apiClient(db.sql);
  assertError(await withoutDispatcher.call("GET", "/admin/api/v1/live"), 503, "unavailable");
});
