// Model-based tests of the webhook machine (one endpoint's delivery policy)
// on its pure definition, with XState's SimulatedClock as the actor system's
// clock, so cool-downs and pauses pass in no time. The model is the policy as
// a person states it:
// - closed opens after T consecutive failures, or at once on 410 Gone;
// - with a cool-down, open becomes half_open when it has passed, and the one
//   probe closes it (success) or re-opens it with the cool-down doubled, up
//   to the cap (failure); without one, open lasts until a re-enable;
// - a Retry-After pauses the endpoint: rows claimed while paused are held
//   back, due again when the pause ends, never started.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { type Actor, createActor, SimulatedClock } from "xstate";
import type { ClaimedDelivery, DeliveryOutcome } from "../machines/delivery.ts";
import { claimOnlyStartsRows, successResets, webhookMachine } from "../machines/webhook.ts";
import { attemptOutcome, claimedDelivery } from "./support/delivery-fixtures.ts";

const RUNS = 300;
const COOL_DOWN = 1000;
const COOL_DOWN_MAX = 5000;

type Breaker = "closed" | "open" | "half_open";
type Model = {
  threshold: number;
  coolDown: number | null;
  failures: number;
  breaker: Breaker;
  /** The current opening's cool-down; null: open until re-enabled. */
  opening: number | null;
  /** Simulated ms until the breaker turns half_open, and until the pause ends. */
  reopenIn: number;
  pausedFor: number;
  probesInFlight: number;
};
type Real = {
  actor: Actor<typeof webhookMachine>;
  clock: SimulatedClock;
  started: ClaimedDelivery[];
  held: { rows: ClaimedDelivery[]; delayMs: number }[];
  wakes: number;
};
type Command = fc.AsyncCommand<Model, Real, false>;

let rowId = 0;
const row = (probe = false) => claimedDelivery({ id: `d${++rowId}`, eventId: `e${rowId}`, eventType: "a.b", probe });
const outcome = (status: DeliveryOutcome["status"], extra: Partial<DeliveryOutcome> = {}) =>
  attemptOutcome(status, { deliveryId: "d", ...extra });

function agrees(m: Model, r: Real, after: string) {
  const s = r.actor.getSnapshot();
  assert.ok(
    s.matches({ breaker: m.breaker }),
    `after ${after}: breaker ${JSON.stringify(s.value)}, model ${m.breaker}`,
  );
  assert.ok(
    s.matches({ pace: m.pausedFor > 0 ? "paused" : "flowing" }),
    `after ${after}: pace ${JSON.stringify(s.value)}`,
  );
  assert.equal(s.context.consecutiveFailures, m.failures, `after ${after}: consecutive failures`);
  if (m.breaker === "open") {
    // The actor's own cool-down: the first one, doubled per failed probe up to the cap (or none: dwctl's).
    assert.equal(s.context.coolDownMs, m.opening, `after ${after}: the cool-down`);
    if (m.opening !== null) {
      assert.ok(m.opening >= COOL_DOWN && m.opening <= COOL_DOWN_MAX, "the cool-down stays within its bounds");
    }
  }
}

/** The clock moves on: timers that come due fire, in order. */
class Elapse implements Command {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const wakesBefore = r.wakes;
    r.clock.increment(this.ms);
    let expectedWakes = 0;
    if (m.breaker === "open" && m.opening !== null && this.ms >= m.reopenIn) {
      m.breaker = "half_open";
      expectedWakes++;
    } else if (m.breaker === "open" && m.opening !== null) m.reopenIn -= this.ms;
    if (m.pausedFor > 0 && this.ms >= m.pausedFor) {
      m.pausedFor = 0;
      expectedWakes++;
    } else if (m.pausedFor > 0) m.pausedFor -= this.ms;
    assert.equal(
      r.wakes - wakesBefore,
      expectedWakes,
      "a probe coming due and a pause ending each wake the dispatcher",
    );
    agrees(m, r, String(this));
  }
  toString = () => `${this.ms} ms pass`;
}

/** An ordinary attempt (not a probe) finishes. */
class Finish implements Command {
  constructor(readonly kind: "success" | "failure" | "gone") {}
  check = (m: Readonly<Model>) => m.breaker === "closed";
  async run(m: Model, r: Real) {
    const before = r.actor.getSnapshot();
    r.actor.send({
      type: "FINISHED",
      outcome: this.kind === "success"
        ? outcome("delivered")
        : this.kind === "gone"
        ? outcome("exhausted", { gone: true, statusCode: 410 })
        : outcome("failed"),
    });
    if (this.kind === "success") {
      // The dispatcher's shortcut: a plain success it does not send must be one that changes nothing.
      const after = r.actor.getSnapshot();
      const changed = !isDeepStrictEqual([after.value, after.context], [before.value, before.context]);
      assert.equal(successResets(before), changed, "a plain success changes the actor exactly where it resets");
      m.failures = 0;
    } else m.failures += 1;
    if (this.kind === "gone") {
      m.breaker = "open";
      m.opening = null;
    } else if (this.kind === "failure" && m.failures >= m.threshold) {
      m.breaker = "open";
      m.opening = m.coolDown;
      m.reopenIn = m.coolDown ?? 0;
    }
    agrees(m, r, String(this));
  }
  toString = () => `attempt: ${this.kind}`;
}

/** A send that was in flight when the breaker opened finishes: nothing changes. */
class LateResult implements Command {
  constructor(readonly success: boolean) {}
  check = (m: Readonly<Model>) => m.breaker === "open";
  async run(m: Model, r: Real) {
    const before = r.actor.getSnapshot();
    if (this.success) assert.equal(successResets(before), false, "an open breaker ignores a plain success");
    r.actor.send({ type: "FINISHED", outcome: outcome(this.success ? "delivered" : "failed") });
    assert.deepEqual(r.actor.getSnapshot().value, before.value);
    assert.deepEqual(r.actor.getSnapshot().context, before.context);
    agrees(m, r, String(this));
  }
  toString = () => `late ${this.success ? "success" : "failure"} while open`;
}

/** The claim hands the endpoint its probe (the database let exactly one through). */
class ClaimProbe implements Command {
  check = (m: Readonly<Model>) => m.breaker === "half_open" && m.probesInFlight === 0 && m.pausedFor === 0;
  async run(m: Model, r: Real) {
    const probe = row(true);
    assert.equal(claimOnlyStartsRows(r.actor.getSnapshot(), [probe]), false, "a probe is the actor's to start");
    r.actor.send({ type: "CLAIMED", rows: [probe] });
    assert.equal(r.started.at(-1), probe, "the probe is started");
    m.probesInFlight = 1;
    agrees(m, r, String(this));
  }
  toString = () => "probe claimed";
}

/** Probe outcomes the model runs reached, by kind: the property must not pass by never getting there. */
const probesSeen = { succeeded: 0, failed: 0 };

class ProbeResult implements Command {
  constructor(readonly success: boolean) {}
  check = (m: Readonly<Model>) => m.probesInFlight === 1;
  async run(m: Model, r: Real) {
    probesSeen[this.success ? "succeeded" : "failed"]++;
    r.actor.send({ type: "FINISHED", outcome: outcome(this.success ? "delivered" : "failed", { probe: true }) });
    m.probesInFlight = 0;
    if (this.success) {
      m.breaker = "closed";
      m.failures = 0;
      m.opening = null;
    } else {
      m.failures += 1;
      m.breaker = "open";
      m.opening = Math.min(2 * m.opening!, COOL_DOWN_MAX);
      m.reopenIn = m.opening;
    }
    agrees(m, r, String(this));
  }
  toString = () => `probe ${this.success ? "succeeds" : "fails"}`;
}

/** A 429 with Retry-After: the endpoint pauses. */
class RetryAfter implements Command {
  constructor(readonly secs: number) {}
  check = (m: Readonly<Model>) => m.breaker === "closed";
  async run(m: Model, r: Real) {
    r.actor.send({ type: "FINISHED", outcome: outcome("failed", { statusCode: 429, pauseSecs: this.secs }) });
    m.failures += 1;
    if (m.failures >= m.threshold) {
      m.breaker = "open";
      m.opening = m.coolDown;
      m.reopenIn = m.coolDown ?? 0;
    }
    m.pausedFor = this.secs * 1000;
    agrees(m, r, String(this));
  }
  toString = () => `429, Retry-After ${this.secs}`;
}

/** Ordinary rows come from a claim: started while flowing, held back while paused. */
class ClaimRows implements Command {
  constructor(readonly n: number) {}
  check = (m: Readonly<Model>) => m.breaker === "closed";
  async run(m: Model, r: Real) {
    const rows = Array.from({ length: this.n }, () => row());
    const [started, held] = [r.started.length, r.held.length];
    const before = r.actor.getSnapshot();
    // The dispatcher's shortcut: where it says the claim only starts the rows, the actor must agree.
    const onlyStarts = claimOnlyStartsRows(before, rows);
    assert.equal(onlyStarts, m.pausedFor === 0, "a closed, flowing endpoint's rows only start");
    r.actor.send({ type: "CLAIMED", rows });
    if (onlyStarts) {
      const after = r.actor.getSnapshot();
      assert.deepEqual([after.value, after.context], [before.value, before.context], "nothing else changed");
    }
    if (m.pausedFor > 0) {
      assert.equal(r.started.length, started, "nothing starts while paused");
      assert.deepEqual(r.held.at(-1)?.rows, rows, "held back");
      assert.ok(r.held.at(-1)!.delayMs >= m.pausedFor, "due again no earlier than the pause ends");
    } else {
      assert.deepEqual(r.started.slice(started), rows);
      assert.equal(r.held.length, held);
    }
    agrees(m, r, String(this));
  }
  toString = () => `claim of ${this.n}`;
}

class Reenable implements Command {
  check = (m: Readonly<Model>) => m.probesInFlight === 0;
  async run(m: Model, r: Real) {
    r.actor.send({ type: "REENABLED" });
    m.failures = 0;
    m.breaker = "closed";
    m.opening = null;
    agrees(m, r, String(this));
  }
  toString = () => "re-enable";
}

// fc.commands picks among these uniformly, and a command runs only where its
// check allows: the probe's commands and the clock are listed more than once
// so that runs reach half-open, claim the probe and see it fail or succeed.
const commands = [
  fc.integer({ min: 1, max: 6000 }).map((ms) => new Elapse(ms)),
  fc.integer({ min: 1, max: 6000 }).map((ms) => new Elapse(ms)),
  fc.constantFrom("success", "failure", "failure", "gone").map((k) => new Finish(k as "success")),
  fc.constant(new Finish("failure")),
  fc.boolean().map((s) => new LateResult(s)),
  fc.constant(new ClaimProbe()),
  fc.constant(new ClaimProbe()),
  fc.boolean().map((s) => new ProbeResult(s)),
  fc.boolean().map((s) => new ProbeResult(s)),
  fc.integer({ min: 1, max: 5 }).map((s) => new RetryAfter(s)),
  fc.integer({ min: 1, max: 3 }).map((n) => new ClaimRows(n)),
  fc.constant(new Reenable()),
];

test("webhook policy: breaker, cool-down doubling, single probe and pauses agree with the model on a simulated clock", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.boolean(),
      fc.commands<Model, Real, false>(commands, { maxCommands: 80, size: "max" }),
      async (threshold, withCoolDown, cmds) => {
        await fc.asyncModelRun(() => {
          const clock = new SimulatedClock();
          const real = { clock, started: [], held: [], wakes: 0 } as unknown as Real;
          const machine = webhookMachine.provide({
            actions: {
              startRows: (_, rows) => void real.started.push(...rows),
              holdRows: (_, held) => void real.held.push(held),
              wakeDispatcher: () => void real.wakes++,
            },
          });
          real.actor = createActor(machine, {
            clock,
            input: {
              webhookId: "w1",
              threshold,
              coolDownMs: withCoolDown ? COOL_DOWN : null,
              coolDownMaxMs: COOL_DOWN_MAX,
            },
          });
          real.actor.start();
          const model: Model = {
            threshold,
            coolDown: withCoolDown ? COOL_DOWN : null,
            failures: 0,
            breaker: "closed",
            opening: null,
            reopenIn: 0,
            pausedFor: 0,
            probesInFlight: 0,
          };
          return { model, real };
        }, cmds);
      },
    ),
    { numRuns: RUNS },
  );
  assert.ok(probesSeen.failed > 0 && probesSeen.succeeded > 0, `probe outcomes reached: ${JSON.stringify(probesSeen)}`);
});

test("webhook policy: without a cool-down an open breaker stays open however much time passes", () => {
  const clock = new SimulatedClock();
  const actor = createActor(webhookMachine, { clock, input: { webhookId: "w1", threshold: 1, coolDownMs: null } });
  actor.start();
  actor.send({ type: "FINISHED", outcome: outcome("failed") });
  clock.increment(365 * 24 * 3600 * 1000);
  assert.ok(actor.getSnapshot().matches({ breaker: "open" }));
  actor.send({ type: "REENABLED" });
  assert.ok(actor.getSnapshot().matches({ breaker: "closed" }));
});

test("webhook policy: the database's word wins: a report or a claim moves the breaker wherever another replica left it", () => {
  const clock = new SimulatedClock();
  const actor = createActor(webhookMachine, { clock, input: { webhookId: "w1", threshold: 5, coolDownMs: 1000 } });
  actor.start();
  const report = { webhookId: "w1", consecutiveFailures: 5, enabled: false, tripped: false, pausedForMs: 0 };
  actor.send({ type: "RECORDED", report: { ...report, breaker: "open", reopenInMs: 300 } });
  assert.ok(actor.getSnapshot().matches({ breaker: "open" }));
  clock.increment(300);
  assert.ok(actor.getSnapshot().matches({ breaker: "half_open" }), "the database's remaining cool-down is the timer");
  actor.send({ type: "CLAIMED", rows: [row()] });
  assert.ok(actor.getSnapshot().matches({ breaker: "closed" }), "another replica's probe closed it");
  actor.send({ type: "RECORDED", report: { ...report, breaker: "closed", reopenInMs: null, pausedForMs: 2000 } });
  assert.ok(actor.getSnapshot().matches({ pace: "paused" }), "another replica's Retry-After pauses this one too");
  clock.increment(2000);
  assert.ok(actor.getSnapshot().matches({ pace: "flowing" }));
});
