// Path coverage with @xstate/graph: for each machine, the shortest path to
// every state and to every transition, each run against the machine. The
// delivery and webhook paths run with real effects (Postgres, the real
// signer and sender, a local receiver, recordOutcomes), and after each path
// the database must say what the model says; the dispatcher's paths run in a
// world whose effects the test controls. Coverage is measured from what the
// runs actually took (XState's microstep inspection) against every state node
// and transition the definitions hold, so a new state or transition that no
// path reaches fails here.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer } from "node:http";
import { getAdjacencyMap, getShortestPaths } from "@xstate/graph";
import {
  type AnyActorLogic,
  type AnyActorRef,
  type AnyEventObject,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  createActor,
  type InspectionEvent,
  SimulatedClock,
  toPromise,
} from "xstate";
import {
  type ClaimedDelivery,
  type DeliveryInput,
  deliveryMachine,
  type DeliveryOutcome,
  DWCTL_POLICY,
  type SendResult,
  type SignedRequest,
} from "../machines/delivery.ts";
import type { Release } from "../machines/delivery-pool.ts";
import { dispatcherMachine } from "../machines/dispatcher.ts";
import { inFinishOrder, resultWriterMachine } from "../machines/result-writer.ts";
import { webhookMachine } from "../machines/webhook.ts";
import { keyOfTaken, stateNodes, transitions } from "../scripts/diagrams.ts";
import { claimDue } from "../src/db/claim.ts";
import { createDelivery } from "./support/dwctl-reference.ts";
import { recordOutcomes } from "../src/db/outcomes.ts";
import { createWebhook } from "../src/db/webhooks.ts";
import { createKeyring } from "../src/send/keyring.ts";
import { createSender } from "../src/send/sender.ts";
import { webhookHeaders } from "../src/send/signing.ts";
import { withEffects } from "../src/send/delivery-effects.ts";
import { attemptOutcome, claimedDelivery } from "./support/delivery-fixtures.ts";
import { createWorld, type World } from "./support/dispatcher-world.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";
import { type Receiver, startReceiver } from "./support/receiver.ts";

let db: TestDatabase;
let receiver: Receiver;
let refusedUrl: string;
before(async () => {
  db = await testDatabase();
  // Answers with the status its path names: /status/503 → 503.
  receiver = await startReceiver((req, res) => {
    res.statusCode = Number(/\/status\/(\d+)/.exec(req.path)?.[1] ?? 200);
    res.end("ok");
  });
  // A port that was just free: connecting to it is refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  refusedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/hook`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});
after(async () => {
  await receiver.close();
  await db.close();
});

// ---------------------------------------------------------------------------
// Paths and coverage, machine-independent

type Path = {
  label: string;
  initial: AnyMachineSnapshot;
  steps: { event: AnyEventObject; state: AnyMachineSnapshot }[];
};

type Traversal = {
  input?: unknown;
  events: (snapshot: AnyMachineSnapshot) => AnyEventObject[];
  serializeState?: (snapshot: AnyMachineSnapshot) => string;
  /** The keys of the transitions an event took from `from` to `to`; by default the machine's own answer. */
  taken?: (from: AnyMachineSnapshot, event: AnyEventObject, to: AnyMachineSnapshot) => string[];
};

const describeEvent = (e: AnyEventObject) => e.type.replace(/^xstate\./, "");

/**
 * The shortest path to every state, and to every transition: the shortest
 * path to its source state plus the one event that takes it. Paths that are
 * a prefix of another are dropped: running the longer one runs them too.
 */
function coveringPaths(machine: AnyStateMachine, logic: AnyActorLogic, t: Traversal, label: string): Path[] {
  const taken = t.taken ??
    ((from: AnyMachineSnapshot, event: AnyEventObject) =>
      machine.getTransitionData(from, event).map((transition) => keyOfTaken(transition as never)));
  const serialize = t.serializeState ??
    ((s: AnyMachineSnapshot) => JSON.stringify({ value: s.value, context: s.context }));
  const options = { input: t.input, events: t.events, serializeState: serialize } as never;
  const toState = new Map<string, Path>();
  for (const p of getShortestPaths(logic, options)) {
    const [first, ...rest] = p.steps as { event: AnyEventObject; state: AnyMachineSnapshot }[];
    toState.set(serialize(p.state as AnyMachineSnapshot), { label, initial: first.state, steps: rest });
  }
  // Per transition definition, the shortest path whose last event takes it.
  const toTransition = new Map<string, Path>();
  const adjacency = getAdjacencyMap(logic, options) as unknown as Record<
    string,
    { transitions: Record<string, { event: AnyEventObject; state: AnyMachineSnapshot }> }
  >;
  for (const [from, { transitions: edges }] of Object.entries(adjacency)) {
    const head = toState.get(from);
    if (!head) continue;
    const last = head.steps.at(-1)?.state ?? head.initial;
    for (const { event, state } of Object.values(edges)) {
      for (const key of taken(last, event, state)) {
        if ((toTransition.get(key)?.steps.length ?? Infinity) > head.steps.length + 1) {
          toTransition.set(key, { ...head, steps: [...head.steps, { event, state }] });
        }
      }
    }
  }
  const paths = [...toState.values(), ...toTransition.values()];
  const sig = (p: Path) => p.steps.map((s) => JSON.stringify(s.event)).join(" ");
  const unique = [...new Map(paths.map((p) => [sig(p), p])).values()];
  return unique.filter((p) =>
    !unique.some((q) => q !== p && q.steps.length > p.steps.length && sig(q).startsWith(sig(p)))
  );
}

/** What runs of a machine took: transition keys and state node ids, from XState's own inspection. */
class Coverage {
  readonly transitions = new Set<string>();
  readonly states = new Set<string>();
  /** `actorId`: the child actor that runs the machine; the root actor when absent. */
  constructor(readonly name: string, readonly machine: AnyStateMachine, readonly actorId?: string) {}
  /** An inspect observer that notes what the machine's actor (not its children) does. */
  observer = (e: InspectionEvent) => {
    if (
      this.actorId === undefined ? e.actorRef.sessionId !== e.rootId : (e.actorRef as AnyActorRef).id !== this.actorId
    ) return;
    if (e.type === "@xstate.microstep") {
      for (const t of e._transitions) {
        this.transitions.add(keyOfTaken(t as never));
        this.states.add(t.source.id);
      }
    }
    if (e.type === "@xstate.microstep" || e.type === "@xstate.snapshot") {
      for (const node of (e.snapshot as AnyMachineSnapshot)._nodes) this.states.add(node.id);
    }
  };
  assertComplete() {
    const allStates = stateNodes(this.machine.root).map((n) => n.id);
    const allTransitions = transitions(this.machine).map((t) => t.key);
    const missingStates = allStates.filter((id) => !this.states.has(id));
    const missingTransitions = allTransitions.filter((k) => !this.transitions.has(k));
    console.log(
      `${this.name}: ${allStates.length - missingStates.length}/${allStates.length} states, ` +
        `${allTransitions.length - missingTransitions.length}/${allTransitions.length} transitions covered`,
    );
    assert.deepEqual(missingStates, [], `${this.name}: states no path reaches`);
    assert.deepEqual(missingTransitions, [], `${this.name}: transitions no path takes`);
  }
}

/** The macrosteps an actor took after start, as "event → state" lines, to compare with a path. */
function trace(path: Path, show: (s: AnyMachineSnapshot) => unknown = (s) => s.value): string[] {
  return [
    `start → ${JSON.stringify(show(path.initial))}`,
    ...path.steps.map((s) => `${describeEvent(s.event)} → ${JSON.stringify(show(s.state))}`),
  ];
}

// ---------------------------------------------------------------------------
// delivery: each path through the real signer and sender, recorded in Postgres

const SCHEDULE = [0, 60, 300];
const REQUEST: SignedRequest = { url: "https://receiver.example/hook", headers: {}, body: "{}" };
const response = (statusCode: number): SendResult => ({
  kind: "response",
  statusCode,
  responseBody: "ok",
  durationMs: 1,
});

// What the effects answer: SIGNED or SIGN.FAILED from signing, SENT from
// sending (a sender that throws, a bug, is answered by the edge as an error
// result, durationMs 0).
const SENDER_BUG = "sender bug";
const deliveryEvents = (s: AnyMachineSnapshot): AnyEventObject[] => {
  if (s.matches("claimed")) {
    return [{ type: "SIGNED", request: REQUEST }, { type: "SIGN.FAILED", error: "bad secret" }];
  }
  if (s.matches("sending")) {
    return [
      { type: "SENT", result: response(200) },
      { type: "SENT", result: response(503) },
      { type: "SENT", result: { kind: "error", error: "connection refused", durationMs: 1 } },
      { type: "SENT", result: { kind: "error", error: SENDER_BUG, durationMs: 0 } },
    ];
  }
  return [];
};

type Variant = { name: string; attemptCount: number; enabled: boolean };
const VARIANTS: Variant[] = [
  { name: "first attempt", attemptCount: 0, enabled: true },
  { name: "last attempt", attemptCount: SCHEDULE.length - 1, enabled: true },
  { name: "webhook disabled", attemptCount: 0, enabled: false },
];

const modelDelivery = (v: Variant): ClaimedDelivery =>
  claimedDelivery({
    id: "d",
    webhookId: "w",
    eventId: "e",
    attemptCount: v.attemptCount,
    url: REQUEST.url,
    webhookEnabled: v.enabled,
  });

/** Makes the world produce the path's events: receiver status, a broken secret, a refused port, a throwing sender. */
async function runDeliveryPath(path: Path, variant: Variant, coverage: Coverage) {
  const events = path.steps.map((s) => s.event);
  const sendResult = events.find((e) => e.type === "SENT")?.result as SendResult | undefined;
  const senderBug = sendResult?.kind === "error" && sendResult.error === SENDER_BUG;
  const url = sendResult?.kind === "error" && !senderBug
    ? refusedUrl
    : `${receiver.url}/status/${sendResult?.kind === "response" ? sendResult.statusCode : 200}`;
  const { webhook } = await createWebhook(db.sql, { userId: crypto.randomUUID(), url });
  if (!variant.enabled) await db.sql`UPDATE user_webhooks SET enabled = false WHERE id = ${webhook.id}`;
  if (events.some((e) => e.type === "SIGN.FAILED")) {
    await db.sql`UPDATE user_webhooks SET secret = 'whsec_%%% not base64 %%%' WHERE id = ${webhook.id}`;
  }
  const marker = crypto.randomUUID();
  const created = await createDelivery(db.sql, {
    webhookId: webhook.id,
    eventId: crypto.randomUUID(),
    eventType: "batch.completed",
    payload: { type: "batch.completed", timestamp: new Date().toISOString(), data: { marker } },
  });
  if (variant.attemptCount > 0) {
    await db
      .sql`UPDATE webhook_deliveries SET status = 'failed', attempt_count = ${variant.attemptCount} WHERE id = ${created.id}`;
  }

  // Claimed and signed the way src/start/dispatcher-actor.ts does it.
  const row = (await claimDue(db.sql, 1000, 300)).find((r) => r.id === created.id);
  assert.ok(row, "the row is claimed");
  const keyring = createKeyring();
  if (row.secret !== null) keyring.remember(row.webhookId, row.secret);
  const { secret: _secret, ...delivery } = row;
  const realSend = createSender({ timeoutMs: 5000, allowPrivateTargets: true });
  const machine = withEffects({
    sign: async (input) => {
      const key = await keyring.key(input.webhookId);
      const headers = await webhookHeaders(key, input.eventId, Math.floor(Date.now() / 1000), input.payload);
      return { url: input.url!, headers, body: input.payload };
    },
    // The real sender turns every failure into a value; a sender that throws
    // is a bug, and the one effect here that has to be injected.
    send: senderBug
      ? () => Promise.reject(new Error(SENDER_BUG))
      : (request) => realSend(request, new AbortController().signal),
  });
  const seen: string[] = [];
  const actor = createActor(machine, {
    input: { delivery, schedule: SCHEDULE } satisfies DeliveryInput,
    inspect: (e) => {
      coverage.observer(e);
      if (e.type === "@xstate.snapshot" && e.actorRef === actor) {
        const s = e.snapshot as AnyMachineSnapshot;
        seen.push(
          e.event.type === "xstate.init"
            ? `start → ${JSON.stringify(s.value)}`
            : `${describeEvent(e.event)} → ${JSON.stringify(s.value)}`,
        );
      }
    },
  });
  actor.start();
  const output: DeliveryOutcome = await toPromise(actor);
  assert.deepEqual(seen, trace(path), `${variant.name}: the real run left the path`);

  // The model's outcome, field by field where the world does not add noise (durations, bodies).
  const modelOutcome = (path.steps.at(-1)?.state ?? path.initial).context.outcome as DeliveryOutcome;
  for (const field of ["status", "attempted", "retryDelaySecs", "statusCode", "attemptsBefore"] as const) {
    assert.equal(output[field], modelOutcome[field], `${variant.name}: outcome.${field}`);
  }

  // Recorded the way the dispatcher records it; the row must now say what the model said.
  await recordOutcomes(db.sql, { outcomes: [output], released: [] }, 10);
  const [after] = await db.sql<
    { status: string; attempt_count: number; last_status_code: number | null; due_in: number; attempts: number }[]
  >`
    SELECT d.status, d.attempt_count, d.last_status_code,
      extract(epoch FROM d.next_attempt_at - now())::float8 AS due_in,
      (SELECT count(*)::int FROM webhook_delivery_attempts a WHERE a.delivery_id = d.id) AS attempts
    FROM webhook_deliveries d WHERE d.id = ${created.id}`;
  assert.equal(after.status, modelOutcome.status);
  assert.equal(after.attempt_count, variant.attemptCount + (modelOutcome.attempted ? 1 : 0));
  assert.equal(after.attempts, modelOutcome.attempted ? 1 : 0, "one attempt-log row per attempt");
  if (modelOutcome.attempted) assert.equal(after.last_status_code, modelOutcome.statusCode);
  if (modelOutcome.status === "failed") {
    assert.ok(Math.abs(after.due_in - modelOutcome.retryDelaySecs!) < 5, "due again after the retry delay");
  }
  // The payload went out signed, byte for byte, when the path sent it.
  if (sendResult?.kind === "response") {
    const got = receiver.received.find((r) => r.body.includes(marker));
    assert.ok(got, "the receiver got the payload");
    assert.match(got.headers["webhook-signature"], /^v1,/);
  }
}

test("delivery: a real run along the shortest path to every state and transition, recorded in Postgres, agrees with the model", async () => {
  const coverage = new Coverage("delivery", deliveryMachine);
  let runs = 0;
  for (const variant of VARIANTS) {
    const input: DeliveryInput = { delivery: modelDelivery(variant), schedule: SCHEDULE };
    for (
      const path of coveringPaths(deliveryMachine, deliveryMachine, { input, events: deliveryEvents }, variant.name)
    ) {
      await runDeliveryPath(path, variant, coverage);
      runs++;
    }
  }
  console.log(`delivery: ${runs} paths run`);
  coverage.assertComplete();
});

// ---------------------------------------------------------------------------
// webhook: each path run on a simulated clock; timers fire as the clock moves.
// (That the database and the actor agree is the end-to-end tests' part:
// reliability-policy.test.ts and reliability-replicas.test.ts.)

const THRESHOLD = 2;
const COOL_DOWN_MS = 1000;
const policyRow = (probe: boolean, enabled = true) =>
  claimedDelivery({ webhookId: "w", webhookEnabled: enabled, probe });
const policyOutcome = (status: DeliveryOutcome["status"], extra: Partial<DeliveryOutcome> = {}) =>
  attemptOutcome(status, { webhookId: "w", retryDelaySecs: status === "failed" ? 60 : null, ...extra });
const report = (breaker: "closed" | "open" | "half_open", reopenInMs: number | null, pausedForMs = 0) => ({
  webhookId: "w",
  breaker,
  consecutiveFailures: breaker === "closed" ? 0 : THRESHOLD,
  enabled: breaker === "closed",
  tripped: false,
  reopenInMs,
  pausedForMs,
});
const webhookEvents = (s: AnyMachineSnapshot): AnyEventObject[] => {
  const events: AnyEventObject[] = [
    { type: "FINISHED", outcome: policyOutcome("delivered") },
    { type: "FINISHED", outcome: policyOutcome("failed") },
    { type: "FINISHED", outcome: policyOutcome("exhausted", { gone: true, statusCode: 410 }) },
    { type: "FINISHED", outcome: policyOutcome("failed", { statusCode: 429, pauseSecs: 2 }) },
    { type: "FINISHED", outcome: policyOutcome("delivered", { probe: true }) },
    { type: "FINISHED", outcome: policyOutcome("failed", { probe: true }) },
    { type: "CLAIMED", rows: [policyRow(false)] },
    { type: "CLAIMED", rows: [policyRow(true, true)] },
    { type: "RECORDED", report: report("open", COOL_DOWN_MS) },
    { type: "RECORDED", report: report("half_open", null) },
    { type: "RECORDED", report: report("closed", null, 3000) },
    { type: "REENABLED" },
  ];
  if (s.matches({ breaker: "open" })) events.push({ type: "xstate.after.coolDown.webhook.breaker.open" });
  if (s.matches({ pace: "paused" })) events.push({ type: "xstate.after.pause.webhook.pace.paused" });
  return events;
};
// Counts capped, timers left out: the graph stays finite.
const webhookState = (s: AnyMachineSnapshot) =>
  JSON.stringify([s.value, Math.min(s.context.consecutiveFailures, THRESHOLD), s.context.coolDownMs !== null]);

test("webhook: the shortest path to every state and transition, run on a simulated clock, matches the graph step by step", async () => {
  const coverage = new Coverage("webhook", webhookMachine);
  const input = { webhookId: "w", threshold: THRESHOLD, coolDownMs: COOL_DOWN_MS, coolDownMaxMs: 4 * COOL_DOWN_MS };
  const paths = coveringPaths(webhookMachine, webhookMachine, {
    input,
    events: webhookEvents,
    serializeState: webhookState,
  }, "webhook");
  for (const path of paths) {
    const clock = new SimulatedClock();
    let collecting = false;
    const actor = createActor(webhookMachine, { clock, input, inspect: (e) => collecting && coverage.observer(e) });
    actor.start();
    const done: string[] = [];
    for (const { event, state } of path.steps) {
      collecting = true;
      // A delayed event is what the clock delivers once the delay has passed.
      if (event.type.startsWith("xstate.after.coolDown")) clock.increment(actor.getSnapshot().context.reopenInMs);
      else if (event.type.startsWith("xstate.after.pause")) clock.increment(actor.getSnapshot().context.pausedForMs);
      else actor.send(event as never);
      collecting = false;
      done.push(describeEvent(event));
      assert.deepEqual(actor.getSnapshot().value, state.value, `after ${done.join(" → ")}`);
    }
    actor.stop();
  }
  console.log(`webhook: ${paths.length} paths run`);
  coverage.assertComplete();
});

// ---------------------------------------------------------------------------
// dispatcher: each path in a world whose effects the test answers

const TRAVERSAL_SETTINGS = {
  batchSize: 1,
  maxInFlight: 1,
  pollIntervalMs: 1000,
  shutdownGraceMs: 5000,
  writeRetryMs: 500,
  schedule: SCHEDULE,
  threshold: 3,
  webhookIdleMs: 60_000,
};
const ROW = claimedDelivery();
const OUTCOME = attemptOutcome("delivered");
// A failed attempt (HTTP 500, the first of three tries): the webhook actor hears FAILED, and a claim waits until it is written.
const FAILED_OUTCOME = attemptOutcome("failed", { retryDelaySecs: SCHEDULE[1] });
const RELEASE: Release = { deliveryId: "d1", webhookId: "w1", attemptsBefore: 0 };

// The dispatcher and its result writer, traversed together: what one sends
// the other is part of the step, as it is in a running actor system. A
// traversal state is both snapshots, and the transitions either machine took.
type Pair = { dispatcher: AnyMachineSnapshot; writer: AnyMachineSnapshot; taken: string[] };
const pairOf = (s: AnyMachineSnapshot) => s as unknown as Pair;

// Events from outside the pair that go to the writer: its write's answer and its back-off timer.
const forWriter = (event: AnyEventObject) =>
  /^xstate\.(done|error)\.actor\.record$/.test(event.type) || event.type.startsWith("xstate.after.writeRetry.");

const dispatcherEvents = (snapshot: AnyMachineSnapshot): AnyEventObject[] => {
  const { dispatcher: s, writer } = pairOf(snapshot);
  const events: AnyEventObject[] = [{ type: "WAKE" }, { type: "STOP" }, { type: "WEBHOOK.REENABLED", webhookId: "w1" }];
  if (s.matches({ intake: "claiming" })) {
    events.push(
      { type: "xstate.done.actor.claim", output: [] },
      { type: "xstate.done.actor.claim", output: [ROW] },
      { type: "xstate.error.actor.claim", error: new Error("database unavailable") },
    );
  }
  // The pool's reports: a delivery finished or crashed while it is live; once
  // told to abandon (intake abandoning) it has none live, and answers with
  // the release of what was in flight (maxInFlight 1: the one row).
  if (s.matches({ intake: "abandoning" })) {
    events.push({ type: "DELIVERIES.RELEASED", released: [RELEASE] });
  } else if (s.context.inFlight > 0) {
    events.push(
      { type: "DELIVERIES.FINISHED", outcomes: [OUTCOME] },
      { type: "DELIVERIES.FINISHED", outcomes: [FAILED_OUTCOME] },
      { type: "DELIVERIES.CRASHED", deliveryIds: ["d1"] },
    );
  }
  if (writer.status === "active" && writer.matches({ writing: "flushing" })) {
    events.push({ type: "xstate.done.actor.record", output: { webhooks: [], exhausted: 0 } }, {
      type: "xstate.error.actor.record",
      error: new Error("database unavailable"),
    });
  }
  if (s.matches({ intake: "idle" })) events.push({ type: "xstate.after.pollInterval.dispatcher.intake.idle" });
  if (s.matches({ intake: "draining" })) events.push({ type: "xstate.after.shutdownGrace.dispatcher.intake.draining" });
  if (s.matches({ intake: "retryingClaim" })) {
    events.push({ type: "xstate.after.claimRetry.dispatcher.intake.retryingClaim" });
  }
  if (writer.status === "active" && writer.matches({ writing: "backingOff" })) {
    events.push({ type: "xstate.after.writeRetry.resultWriter.writing.backingOff" });
  }
  if (s.matches({ webhooks: "watching" })) {
    events.push({ type: "xstate.after.webhookIdle.dispatcher.webhooks.watching" });
  }
  return events;
};

const cap2 = (n: number) => Math.min(n, 2);
/** The state of both machines up to what matters for their transitions; counts capped so the graph is finite. */
const systemView = (d: AnyMachineSnapshot, w: AnyMachineSnapshot | undefined) => ({
  value: d.value,
  status: d.status,
  inFlight: d.context.inFlight,
  moreDue: d.context.moreDue,
  claimedWebhooks: d.context.claimedWebhooks.size,
  // The writer, while it runs (a finished writer leaves the dispatcher's children).
  writer: w?.status === "active"
    ? {
      value: w.value,
      failedWritesAfterClose: w.context.failedWritesAfterClose,
      unwritten: cap2(w.context.collected - w.context.written),
      barrierMet: w.context.written >= w.context.claimBarrier,
      results: cap2(inFinishOrder(w.context.results).length),
      released: cap2(w.context.released.length),
      writing: w.context.writing
        ? [cap2(w.context.writing.outcomes.length), cap2(w.context.writing.released.length)]
        : null,
    }
    : null,
});
const pairView = (snapshot: AnyMachineSnapshot) => {
  const { dispatcher, writer } = pairOf(snapshot);
  return systemView(dispatcher, writer);
};
const worldView = (w: World) => {
  const snapshot = w.actor.getSnapshot();
  return systemView(snapshot, (snapshot.children as Record<string, AnyActorRef | undefined>).writer?.getSnapshot());
};

/**
 * The dispatcher and its writer read through @xstate/graph's own actor
 * scope, with corrections that make each branch of the graph its own actor
 * system, as a running one is: `self.getSnapshot()` answers with the snapshot
 * being transitioned (retireIdleWebhooks reads the webhook actors through
 * it), `system.get` finds the children of that snapshot, not those another
 * branch registered in the one system @xstate/graph shares between branches,
 * and what either machine sends the other is delivered as XState delivers
 * it: to an idle actor at once, to a busy one after its current event, a
 * sender's messages in the order it sent them. Everything else an action
 * would do (start a child, send to the pool or a webhook actor, schedule a
 * timer) is left out: the world's run does it for real.
 */
const PARENT = { id: "the writer's parent" };
function pairLogic(): AnyActorLogic {
  type Name = "dispatcher" | "writer";
  const run = (from: Omit<Pair, "taken">, first: { to: Name; event: AnyEventObject } | null, scope: never, init?: {
    input: unknown;
  }): Pair => {
    const snapshots: Record<Name, AnyMachineSnapshot> = { ...from } as never;
    const taken: string[] = [];
    const mailbox: Record<Name, AnyEventObject[]> = { dispatcher: [], writer: [] };
    const busy: Record<Name, boolean> = { dispatcher: false, writer: false };
    const scopeFor = (
      name: Name,
      snapshot: () => AnyMachineSnapshot,
      outgoing: { to: Name; event: AnyEventObject }[],
    ) => {
      const base = scope as { self: object; system: object };
      const system = Object.create(base.system, {
        get: { value: (id: string) => snapshot().children[id] },
        _set: { value: () => {} },
        _sendInspectionEvent: {
          value: (e: InspectionEvent) => {
            if (e.type === "@xstate.microstep") taken.push(...e._transitions.map((t) => keyOfTaken(t as never)));
          },
        },
      });
      const self = Object.create(base.self, {
        getSnapshot: { value: snapshot },
        system: { value: system },
        _parent: { value: name === "writer" ? PARENT : undefined },
      });
      const actionExecutor = (action: { type: string; params?: { to?: unknown; event?: AnyEventObject } }) => {
        if (action.type !== "xstate.sendTo" || !action.params?.event) return;
        const to = action.params.to;
        if (name === "writer" && to === PARENT) outgoing.push({ to: "dispatcher", event: action.params.event });
        if (name === "dispatcher" && (to as AnyActorRef | undefined)?.id === "writer") {
          outgoing.push({ to: "writer", event: action.params.event });
        }
      };
      return { ...base, self, system, actionExecutor, defer: () => {} } as never;
    };
    // Each actor's mailbox: an event sent to a busy actor waits until its current one is done.
    const drain = (to: Name) => {
      if (busy[to]) return;
      busy[to] = true;
      while (mailbox[to].length > 0) {
        const next = mailbox[to].shift()!;
        const before = snapshots[to];
        if (before.status !== "active") continue;
        const outgoing: { to: Name; event: AnyEventObject }[] = [];
        snapshots[to] = before.machine.transition(before, next, scopeFor(to, () => before, outgoing));
        for (const message of outgoing) deliver(message.to, message.event);
        if (to === "writer" && snapshots.writer.status === "done") {
          deliver("dispatcher", {
            type: "xstate.done.actor.writer",
            output: snapshots.writer.output,
            actorId: "writer",
          });
        }
      }
      busy[to] = false;
    };
    const deliver = (to: Name, event: AnyEventObject) => {
      mailbox[to].push(event);
      drain(to);
    };
    if (init) {
      // Start: the dispatcher's first steps already ask its writer for a claim.
      const outgoing: { to: Name; event: AnyEventObject }[] = [];
      busy.dispatcher = true;
      snapshots.dispatcher = dispatcherMachine.getInitialSnapshot(
        scopeFor("dispatcher", () => snapshots.dispatcher, outgoing),
        init.input as never,
      );
      snapshots.writer = (snapshots.dispatcher.children.writer as AnyActorRef).getSnapshot();
      for (const message of outgoing) deliver(message.to, message.event);
      busy.dispatcher = false;
      drain("dispatcher");
    }
    if (first) deliver(first.to, first.event);
    return { ...snapshots, taken } as Pair;
  };
  return {
    ...dispatcherMachine,
    getInitialSnapshot: (scope: never, input: unknown) => run({} as Omit<Pair, "taken">, null, scope, { input }),
    transition: (snapshot: Pair, event: AnyEventObject, scope: never) =>
      run(snapshot, { to: forWriter(event) ? "writer" : "dispatcher", event }, scope),
  } as unknown as AnyActorLogic;
}

/**
 * Makes the world produce the path's event: answer the claim, finish the send
 * (the pool reports it), pass on the pool's release report, answer the write,
 * fire the timer.
 */
function produce(w: World, event: AnyEventObject) {
  switch (event.type) {
    case "xstate.done.actor.claim":
      return void w.answerClaim((event.output as unknown[]).length);
    case "xstate.error.actor.claim":
      return w.failClaim();
    case "DELIVERIES.FINISHED": {
      const [outcome] = event.outcomes as DeliveryOutcome[];
      return void assert.ok(w.finishSend(outcome.statusCode!, "d1"), "a send is in flight");
    }
    case "DELIVERIES.CRASHED":
      return void assert.ok(w.finishSend(null, "d1"), "a send is in flight");
    case "DELIVERIES.RELEASED":
      assert.deepEqual(w.heldRelease(), event, "the pool's release report");
      return w.passRelease();
    case "xstate.done.actor.record":
      return w.answerRecord(true);
    case "xstate.error.actor.record":
      return w.answerRecord(false);
    case "STOP":
      return w.stop();
    default:
      // WAKE, WEBHOOK.REENABLED, and timers: a delayed event is what the clock would deliver.
      if (forWriter(event)) return w.actor.system.get("writer").send(event);
      return w.actor.send(event as never);
  }
}

test("dispatcher and result writer: the shortest path to every state and transition of both, run in a controlled world, matches the model step by step", async () => {
  const coverage = new Coverage("dispatcher", dispatcherMachine);
  const writerCoverage = new Coverage("result-writer", resultWriterMachine, "writer");
  const inspect = (e: InspectionEvent) => {
    coverage.observer(e);
    writerCoverage.observer(e);
  };
  const serializeState = (s: AnyMachineSnapshot) => JSON.stringify(pairView(s));
  const paths = coveringPaths(dispatcherMachine, pairLogic(), {
    input: TRAVERSAL_SETTINGS,
    events: dispatcherEvents,
    serializeState,
    taken: (_from, _event, to) => pairOf(to).taken,
  }, "dispatcher");
  for (const path of paths) {
    const w = createWorld(TRAVERSAL_SETTINGS, { ids: () => "d1", inspect, holdReleases: true });
    await w.settle();
    const done: string[] = [];
    assert.deepEqual(worldView(w), pairView(path.initial), "start");
    for (const { event, state } of path.steps) {
      produce(w, event);
      await w.settle();
      done.push(describeEvent(event));
      assert.deepEqual(worldView(w), pairView(state), `after ${done.join(" → ")}`);
    }
    w.actor.stop();
  }
  // One more run the graph cannot offer as a single event: a 429 with
  // Retry-After pauses the endpoint's actor, so the next claim's row is held
  // back (WEBHOOK.HELD) and its claim given back unsent.
  const settings = { ...TRAVERSAL_SETTINGS, policy: { ...DWCTL_POLICY, retryAfterMaxSecs: 60 } };
  const w = createWorld(settings, { ids: () => "d1", inspect });
  await w.settle();
  w.answerClaim(1);
  await w.settle();
  w.finishSend(429, "d1", 30);
  await w.settle();
  w.answerRecord(true);
  await w.settle();
  await w.wakeAndClaim(1);
  assert.equal(w.sends.length, 0, "the held row is not sent");
  w.answerRecord(true);
  await w.settle();
  const released = w.records.at(-1)!.batch.released;
  assert.deepEqual(released.map((r) => [r.deliveryId, r.delaySecs]), [["d1", 30]], "given back, due after the pause");
  assert.equal(w.actor.getSnapshot().context.inFlight, 0);
  w.actor.stop();
  console.log(`dispatcher: ${paths.length + 1} paths run`);
  coverage.assertComplete();
  writerCoverage.assertComplete();
});
