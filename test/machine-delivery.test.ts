// Property tests of the delivery machine on its pure definition: signing and
// sending are fake effects supplied through provide() as actions that answer
// with SIGNED / SIGN.FAILED / SENT (through src/send/delivery-effects.ts, as the
// dispatcher provides the real ones), so a thousand attempts take a
// moment. A model-based run follows one row through retries (fc.commands):
// each command is one claim of the row by a fresh delivery actor.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createActor, getNextTransitions, toPromise, transition } from "xstate";
import { type ClaimedDelivery, deliveryMachine, type DeliveryOutcome } from "../machines/delivery.ts";
import { withEffects } from "../src/send/delivery-effects.ts";
import { claimedDelivery } from "./support/delivery-fixtures.ts";

const RUNS = 300;
const FINAL = ["delivered", "failed", "exhausted"] as const;

/** What one attempt meets: a signing failure, a thrown send (the edge answers it as an error result), or a send result. */
type Attempt =
  | { kind: "signThrows" }
  | { kind: "sendThrows" }
  | { kind: "response"; statusCode: number }
  | { kind: "error"; error: string };

const describeAttempt = (a: Attempt) =>
  a.kind === "signThrows"
    ? "sign throws"
    : a.kind === "sendThrows"
    ? "send throws"
    : a.kind === "response"
    ? `HTTP ${a.statusCode}`
    : `send error "${a.error}"`;

const attemptArb: fc.Arbitrary<Attempt> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.integer({ min: 100, max: 599 }).map((statusCode) => ({ kind: "response" as const, statusCode })),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(200, 204, 299).map((statusCode) => ({ kind: "response" as const, statusCode })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("connection refused", "timeout after 30s").map((error) => ({
      kind: "error" as const,
      error,
    })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "signThrows" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "sendThrows" as const }) },
);

/** Every event the delivery machine handles somewhere, with plausible payloads. */
const KNOWN_EVENTS = [
  { type: "SIGNED", request: { url: "https://receiver.example/hook", headers: {}, body: "{}" } },
  { type: "SIGN.FAILED", error: "late sign failure" },
  { type: "SENT", result: { kind: "response", statusCode: 200, responseBody: "", durationMs: 1 } },
  { type: "SENT", result: { kind: "response", statusCode: 500, responseBody: "", durationMs: 1 } },
  { type: "SENT", result: { kind: "error", error: "late send failure", durationMs: 0 } },
];

const is2xx = (a: Attempt) => a.kind === "response" && a.statusCode >= 200 && a.statusCode < 300;

type Calls = { sign: number; send: number };

/** Runs one delivery actor to its end with fakes that meet `attempt`. */
async function runAttempt(delivery: ClaimedDelivery, schedule: number[], attempt: Attempt, calls: Calls) {
  const machine = withEffects({
    sign: async (row) => {
      calls.sign++;
      if (attempt.kind === "signThrows") throw new Error("secret is not valid base64");
      return { url: row.url!, headers: { "webhook-id": row.eventId }, body: row.payload };
    },
    send: async () => {
      calls.send++;
      if (attempt.kind === "sendThrows") throw new Error("sender bug");
      if (attempt.kind === "error") return { kind: "error", error: attempt.error, durationMs: 1 };
      if (attempt.kind !== "response") throw new Error("unreachable");
      return { kind: "response", statusCode: attempt.statusCode, responseBody: "", durationMs: 1 };
    },
  });
  const actor = createActor(machine, { input: { delivery, schedule } });
  actor.start();
  const output: DeliveryOutcome = await toPromise(actor);
  return { actor, snapshot: actor.getSnapshot(), output };
}

// ---------------------------------------------------------------------------
// The model: one row and its webhook, as the database would hold them.

type Model = {
  attempts: number;
  status: "pending" | "failed" | "delivered" | "exhausted";
  enabled: boolean;
  exists: boolean;
};
const initialModel = (attempts: number): Model => ({ attempts, status: "pending", enabled: true, exists: true });
type Real = { schedule: number[]; row: ClaimedDelivery; history: string[] };
type Command = fc.AsyncCommand<Model, Real>;

const claimable = (m: Model) => m.status === "pending" || m.status === "failed";

class Claim implements Command {
  constructor(readonly attempt: Attempt) {}
  check = (m: Readonly<Model>) => claimable(m);
  async run(m: Model, r: Real) {
    const L = r.schedule.length;
    const calls: Calls = { sign: 0, send: 0 };
    const before = r.row.attemptCount;
    const { actor, snapshot, output } = await runAttempt(r.row, r.schedule, this.attempt, calls);

    // Exactly one of the three final states, and the output says the same.
    assert.equal(snapshot.status, "done");
    assert.deepEqual(FINAL.filter((s) => snapshot.matches(s)), [output.status]);
    assert.equal(output.attemptsBefore, before);

    if (!m.enabled || !m.exists) {
      // A disabled or missing webhook: exhausted, nothing signed or sent, no attempt counted.
      assert.equal(output.status, "exhausted");
      assert.equal(output.attempted, false);
      assert.deepEqual(calls, { sign: 0, send: 0 });
      m.status = "exhausted";
    } else {
      assert.equal(output.attempted, true, "an attempt on an enabled webhook counts");
      assert.equal(calls.sign, 1);
      assert.equal(calls.send, this.attempt.kind === "signThrows" ? 0 : 1);
      m.attempts += 1;
      if (is2xx(this.attempt)) {
        assert.equal(output.status, "delivered");
        m.status = "delivered";
      } else {
        // Exhausted exactly when this attempt used up the schedule.
        const expected = m.attempts >= L ? "exhausted" : "failed";
        assert.equal(output.status, expected, `attempt ${m.attempts} of ${L}`);
        assert.equal(output.retryDelaySecs, expected === "failed" ? r.schedule[m.attempts] : null);
        m.status = expected;
      }
    }
    // A thrown effect is recorded with its message (it travels in SIGN.FAILED, or as SENT's error result).
    if (output.attempted && this.attempt.kind === "signThrows") {
      assert.equal(output.error, "secret is not valid base64");
    }
    if (output.attempted && this.attempt.kind === "sendThrows") assert.equal(output.error, "sender bug");
    if (output.status === "delivered") {
      assert.ok(is2xx(this.attempt), "delivered only after a 2xx");
      assert.ok(output.statusCode! >= 200 && output.statusCode! < 300);
    }

    // A final state has no way out: no transition is enabled and no event changes it.
    assert.deepEqual(getNextTransitions(snapshot), []);
    for (const event of KNOWN_EVENTS) actor.send(event as never);
    assert.equal(actor.getSnapshot(), snapshot);

    // What the database does with the outcome: the count only ever rises, by one per send.
    const after = before + (output.attempted ? 1 : 0);
    assert.ok(after >= before);
    assert.equal(after - before, calls.send + (this.attempt.kind === "signThrows" && output.attempted ? 1 : 0));
    assert.equal(after, m.attempts);
    r.row = { ...r.row, attemptCount: after };
    r.history.push(`${this}: ${output.status}`);
  }
  toString = () => `claim → ${describeAttempt(this.attempt)}`;
}

class Disable implements Command {
  check = (m: Readonly<Model>) => claimable(m) && m.enabled;
  async run(m: Model, r: Real) {
    m.enabled = false;
    r.row = { ...r.row, webhookEnabled: false };
  }
  toString = () => "disable webhook";
}

class Enable implements Command {
  check = (m: Readonly<Model>) => claimable(m) && !m.enabled && m.exists;
  async run(m: Model, r: Real) {
    m.enabled = true;
    r.row = { ...r.row, webhookEnabled: true };
  }
  toString = () => "re-enable webhook";
}

class Delete implements Command {
  check = (m: Readonly<Model>) => claimable(m) && m.exists;
  async run(m: Model, r: Real) {
    m.exists = false;
    r.row = { ...r.row, url: null, webhookEnabled: false };
  }
  toString = () => "delete webhook";
}

const scheduleArb = fc.array(fc.integer({ min: 0, max: 86_400 }), { minLength: 1, maxLength: 8 });

test("delivery: across retries, exactly one final state per attempt; exhausted iff the schedule is used up or the webhook is gone; delivered only after a 2xx; one count per send", async () => {
  await fc.assert(
    fc.asyncProperty(
      scheduleArb,
      fc.integer({ min: 0, max: 3 }),
      fc.commands<Model, Real, false>([
        attemptArb.map((a) => new Claim(a)),
        attemptArb.map((a) => new Claim(a)),
        attemptArb.map((a) => new Claim(a)),
        fc.constant(new Disable()),
        fc.constant(new Enable()),
        fc.constant(new Delete()),
      ], { maxCommands: 20 }),
      async (schedule, startAttempts, commands) => {
        // A row may have been tried before (by dwctl, or an older schedule): start anywhere below L.
        const attemptCount = Math.min(startAttempts, schedule.length - 1);
        const row = claimedDelivery({
          payload: '{"type":"batch.completed","timestamp":"2026-01-01T00:00:00Z","data":{}}',
          attemptCount,
        });
        await fc.asyncModelRun(
          () => ({ model: initialModel(attemptCount), real: { schedule, row, history: [] } }),
          commands,
        );
      },
    ),
    { numRuns: RUNS },
  );
});

test("delivery: a final state is inert: nothing leads out of it, whatever event arrives", async () => {
  await fc.assert(
    fc.asyncProperty(
      scheduleArb,
      fc.nat(10),
      attemptArb,
      fc.boolean(),
      fc.array(fc.constantFrom(...KNOWN_EVENTS), { maxLength: 6 }),
      async (schedule, attemptCount, attempt, enabled, late) => {
        const row = claimedDelivery({ eventType: "t", attemptCount, webhookEnabled: enabled });
        const { actor, snapshot } = await runAttempt(row, schedule, attempt, { sign: 0, send: 0 });
        assert.deepEqual(getNextTransitions(snapshot), []);
        // Late results (a send that finished after a timeout, say) reach a stopped actor and change nothing.
        for (const event of late) actor.send(event as never);
        assert.equal(actor.getSnapshot(), snapshot);
        // And the pure definition agrees for every event: same state, nothing to do.
        for (const event of KNOWN_EVENTS) {
          const [next, actions] = transition(deliveryMachine, snapshot, event as never);
          assert.equal(next.value, snapshot.value);
          assert.equal(next.status, "done");
          assert.deepEqual(actions, []);
        }
      },
    ),
    { numRuns: RUNS },
  );
});
