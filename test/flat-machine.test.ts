// flatMachine runs the delivery machine without XState's general
// interpreter: the same definition must mean the same thing. Random rows and
// random event sequences (in order or not, repeated, unknown) go to an XState
// actor and a flatMachine actor side by side, with effects that only record
// their calls; after the start and after every event both must agree on
// status, state, context, output and the effects called so far. And what
// flatMachine does not support is refused when the logic is built.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type AnyActorLogic, createActor, enqueueActions, not, raise, setup } from "xstate";
import { type ClaimedDelivery, deliveryMachine, type DeliveryPolicy } from "../machines/delivery.ts";
import { flatMachine, UnsupportedMachineError } from "../machines/flat-machine.ts";
import { claimedDelivery } from "./support/delivery-fixtures.ts";

const RUNS = 400;

const rowArb: fc.Arbitrary<ClaimedDelivery> = fc.record({
  id: fc.constantFrom("d1", "d2"),
  webhookId: fc.constant("w1"),
  eventId: fc.constant("e1"),
  eventType: fc.constant("order.created"),
  payload: fc.constant('{"type":"order.created"}'),
  attemptCount: fc.integer({ min: 0, max: 4 }),
  url: fc.option(fc.constant("https://receiver.example/hook"), { freq: 5 }),
  webhookEnabled: fc.boolean(),
  consecutiveFailures: fc.integer({ min: 0, max: 3 }),
  probe: fc.boolean(),
});

const policyArb: fc.Arbitrary<DeliveryPolicy | undefined> = fc.option(
  fc.record({
    jitter: fc.constantFrom(0, 0.5),
    // Deterministic, so both interpreters judge a failure alike.
    random: fc.constant(() => 0.25),
    retryAfterMaxSecs: fc.constantFrom(0, 60),
    disableOnGone: fc.boolean(),
    probesWait: fc.boolean(),
  }),
);

const eventArb = fc.oneof(
  fc.constant({ type: "SIGNED", request: { url: "https://receiver.example/hook", headers: { a: "1" }, body: "{}" } }),
  fc.constantFrom("bad secret", "late").map((error) => ({ type: "SIGN.FAILED", error })),
  fc.record({
    type: fc.constant("SENT"),
    result: fc.oneof(
      fc.record({
        kind: fc.constant("response" as const),
        statusCode: fc.constantFrom(200, 204, 404, 410, 429, 500, 503),
        responseBody: fc.constant("body"),
        durationMs: fc.constant(3),
        retryAfter: fc.option(fc.constantFrom(1, 120), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant("error" as const), error: fc.constant("refused"), durationMs: fc.constant(1) }),
    ),
  }),
  fc.constant({ type: "SOMETHING.ELSE" }),
);

/** The delivery machine with effects that record their calls and never answer. */
function recorded(log: unknown[]) {
  return deliveryMachine.provide({
    actions: {
      sign: (_, row) => void log.push(["sign", row]),
      send: (_, request) => void log.push(["send", request]),
    },
  });
}

/** A copy as data (the policy's random function dropped), taken now: later steps must not change it. */
const copy = (value: unknown) => JSON.parse(JSON.stringify(value ?? null));

type Seen = { status: string; value: unknown; context: unknown; output: unknown; effects: unknown[] };

function drive(logic: AnyActorLogic, input: unknown, events: { type: string }[], log: unknown[]): Seen[] {
  const actor = createActor(logic, { input });
  const seen: Seen[] = [];
  const look = () => {
    const s = actor.getSnapshot();
    seen.push({
      status: s.status,
      value: s.value,
      context: copy(s.context),
      output: copy(s.output),
      effects: copy(log),
    });
  };
  actor.start();
  look();
  for (const event of events) {
    if (actor.getSnapshot().status !== "active") break;
    actor.send(event);
    look();
  }
  actor.stop();
  return seen;
}

test("flatMachine(delivery machine) agrees with XState's interpreter on every state, context, output and effect", () => {
  fc.assert(
    fc.property(rowArb, fc.constantFrom([0], [0, 5], [0, 5, 300]), policyArb, fc.array(eventArb, { maxLength: 5 }), (
      row,
      schedule,
      policy,
      events,
    ) => {
      const input = { delivery: row, schedule, ...(policy ? { policy } : {}) };
      const xstateLog: unknown[] = [];
      const flatLog: unknown[] = [];
      const expected = drive(recorded(xstateLog), input, events, xstateLog);
      const actual = drive(flatMachine(recorded(flatLog)), input, events, flatLog);
      assert.deepEqual(actual, expected);
    }),
    { numRuns: RUNS },
  );
});

test("flatMachine's actor reports done with the machine's output to its parent, as a machine actor does", async () => {
  const log: unknown[] = [];
  const row = claimedDelivery({ eventType: "t" });
  const parent = setup({ actors: { delivery: flatMachine(recorded(log)) } }).createMachine({
    initial: "waiting",
    invoke: {
      id: "child",
      src: "delivery",
      input: { delivery: row, schedule: [0] },
      onDone: { target: ".done", actions: ({ event }) => void log.push(["done", event.output.status]) },
    },
    states: { waiting: {}, done: { type: "final" } },
  });
  const actor = createActor(parent).start();
  const child = actor.getSnapshot().children.child!;
  child.send({ type: "SIGNED", request: { url: row.url!, headers: {}, body: "{}" } });
  child.send({ type: "SENT", result: { kind: "response", statusCode: 200, responseBody: "", durationMs: 1 } });
  assert.equal(actor.getSnapshot().status, "done");
  assert.deepEqual(log.at(-1), ["done", "delivered"]);
});

test("flatMachine refuses what it does not run: nested or parallel states, delays, built-in guards and actions", () => {
  const refused = [
    setup({}).createMachine({ initial: "a", states: { a: { initial: "b", states: { b: {} } } } }),
    setup({}).createMachine({ type: "parallel", states: { a: {}, b: {} } }),
    setup({}).createMachine({ initial: "a", states: { a: { after: { 10: "b" } }, b: {} } }),
    setup({ guards: { yes: () => true } }).createMachine({
      initial: "a",
      states: { a: { on: { GO: { guard: not("yes"), target: "b" } } }, b: {} },
    }),
    setup({}).createMachine({ initial: "a", states: { a: { entry: raise({ type: "GO" }) } } }),
    setup({}).createMachine({ initial: "a", states: { a: { entry: enqueueActions(() => {}) } } }),
    setup({}).createMachine({ initial: "a", states: { a: { on: { "GO.*": "b" } }, b: {} } }),
  ];
  for (const machine of refused) assert.throws(() => flatMachine(machine), UnsupportedMachineError);
});
