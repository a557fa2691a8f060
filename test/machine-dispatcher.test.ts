// Model-based tests of the dispatcher machine: fast-check interleaves
// wake-ups, claim answers, send completions, result writes, clock ticks and a
// stop, in a world where the test decides every effect (support/dispatcher-
// world.ts; the real delivery pool, delivery, webhook and result writer
// machines run inside it). After every step: in-flight never exceeds the cap
// and matches the live delivery actors, nothing is claimed after stop, no
// claim starts before the failures collected when it was wanted are written,
// outcomes are written in the order they finished; at the end every claimed
// delivery was sent, written or released, and stop completes. The runs must
// have reached each kind of step that matters (MUST_REACH).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { AnyActorRef } from "xstate";
import { DWCTL_POLICY } from "../machines/delivery.ts";
import { attemptOutcome } from "./support/delivery-fixtures.ts";
import { createWorld, SETTINGS, type World } from "./support/dispatcher-world.ts";

const RUNS = 150;

type Model = { stopped: boolean };
type Command = fc.AsyncCommand<Model, World, false>;

function invariants(w: World, after: string) {
  const { context } = w.actor.getSnapshot();
  const cap = w.settings.maxInFlight;
  assert.ok(
    context.inFlight >= 0 && context.inFlight <= cap,
    `after ${after}: in-flight ${context.inFlight} exceeds the cap ${cap}`,
  );
  assert.equal(
    w.activeDeliveries(),
    context.inFlight,
    `after ${after}: in-flight count and live delivery actors differ`,
  );
  assert.ok(w.sends.length <= cap, `after ${after}: ${w.sends.length} sends at once`);
  for (const claim of w.claims) {
    assert.ok(claim.limit >= 1 && claim.limit <= w.settings.batchSize, `claim asked for ${claim.limit} rows`);
    assert.equal(claim.afterStop, false, `after ${after}: a claim started after stop`);
  }
  assert.ok(w.claims.filter((c) => c.open).length <= 1, "one claim at a time");
  assert.ok(w.records.filter((r) => r.open).length <= 1, "one result write at a time");
  // The claim barrier: a claim reads rows that already count the failures collected before it was wanted.
  for (const [i, claim] of w.claims.entries()) {
    assert.deepEqual(
      claim.unwrittenFailures.map((o) => o.deliveryId),
      [],
      `after ${after}: claim #${i + 1} started before earlier failures were written`,
    );
  }
  // Written in the order they finished, across batches and retried writes.
  const written = w.records.filter((r) => r.ok).flatMap((r) => r.batch.outcomes);
  const order = new Map(w.finished.map((outcome, i) => [outcome, i]));
  const positions = written.map((outcome) => order.get(outcome) ?? -1);
  assert.ok(
    positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])),
    `after ${after}: outcomes written out of finish order (${positions.join(", ")})`,
  );
}

/**
 * What the runs' steps really did (a step whose moment has not come does
 * nothing), and in how many runs: a property that held only because its
 * runs never reached a crash, a failed write or a stop mid-send proves little.
 */
const reached = new Map<string, number>();
let reachedThisRun = new Set<string>();
const countRun = () => {
  for (const kind of reachedThisRun) reached.set(kind, (reached.get(kind) ?? 0) + 1);
};
/** Each reached in at least this many of the RUNS runs (13 to 67 of 150 in trials; 1 or 2 for a crash or a failed write with fc.commands' default size). */
const MUST_REACH = [
  "claim fails",
  "claim returns rows",
  "claim returns rows of a disabled webhook",
  "send succeeds",
  "send fails",
  "delivery actor crashes",
  "result write succeeds",
  "result write fails",
  "stop while sending",
  'time passes in intake "draining"',
  'time passes in intake "retryingClaim"',
];
const MIN_RUNS_REACHING = 3;

const step = (
  name: string,
  check: (w: World) => boolean,
  act: (w: World) => void,
  kind: (w: World) => string = () => name,
): Command => ({
  check: () => true,
  async run(_m, w) {
    if (!check(w)) return;
    reachedThisRun.add(kind(w));
    act(w);
    await w.settle();
    invariants(w, name);
  },
  toString: () => name,
});

const wake = step("wake", () => true, (w) => w.actor.send({ type: "WAKE" }));
const stop = step(
  "stop",
  (w) => !w.stopSent,
  (w) => w.stop(),
  (w) => w.sends.length > 0 ? "stop while sending" : "stop",
);
const reenable = step("re-enable w1", () => true, (w) => w.actor.send({ type: "WEBHOOK.REENABLED", webhookId: "w1" }));
const claimReturns = (n: number, disabledEvery: number) =>
  step(
    `claim returns ${n} row(s)${disabledEvery ? ", alternate ones for a disabled webhook" : ""}`,
    (w) => !!w.openClaim(),
    (w) => {
      w.answerClaim(
        n,
        (i) => ({ webhookId: i % 2 ? "w2" : "w1", webhookEnabled: !(disabledEvery && i % disabledEvery === 0) }),
      );
    },
    () =>
      n === 0
        ? "claim returns nothing"
        : disabledEvery
        ? "claim returns rows of a disabled webhook"
        : "claim returns rows",
  );
const claimFails = step("claim fails", (w) => !!w.openClaim(), (w) => w.failClaim());
const finish = (status: number | null, which: number) =>
  step(
    `send #${which} finishes: ${status === null ? "delivery actor crashes" : `HTTP ${status}`}`,
    (w) => w.sends.length > 0,
    (w) => {
      w.finishSend(status, w.sends[which % w.sends.length].deliveryId);
    },
    () => status === null ? "delivery actor crashes" : status === 200 ? "send succeeds" : "send fails",
  );
const record = (ok: boolean) =>
  step(`result write ${ok ? "succeeds" : "fails"}`, (w) => !!w.openRecord(), (w) => w.answerRecord(ok));
const tick = (ms: number) =>
  step(`${ms} ms pass`, () => true, (w) => w.clock.increment(ms), (w) => {
    const { intake } = w.actor.getSnapshot().value as { intake: unknown };
    return `time passes in intake ${JSON.stringify(intake)}`;
  });

const commands = fc.commands<Model, World, false>([
  fc.constant(wake),
  fc.constant(stop),
  fc.constant(reenable),
  fc.tuple(fc.nat(SETTINGS.batchSize + 1), fc.constantFrom(0, 0, 2)).map(([n, d]) => claimReturns(n, d)),
  fc.tuple(fc.nat(SETTINGS.batchSize + 1), fc.constantFrom(0, 0, 2)).map(([n, d]) => claimReturns(n, d)),
  fc.constant(claimFails),
  fc.tuple(fc.constantFrom<number | null>(200, 200, 500, 503, null), fc.nat(3)).map(([s, i]) => finish(s, i)),
  fc.tuple(fc.constantFrom<number | null>(200, 500), fc.nat(3)).map(([s, i]) => finish(s, i)),
  fc.nat(3).map((i) => finish(null, i)),
  fc.boolean().map(record),
  fc.constant(record(true)),
  fc.constantFrom(SETTINGS.pollIntervalMs, SETTINGS.writeRetryMs, SETTINGS.shutdownGraceMs, SETTINGS.webhookIdleMs, 100)
    .map(tick),
], { maxCommands: 40, size: "max" });

/**
 * Stops (if the run did not) and lets the world wind down: claims come back
 * empty, writes succeed, and sends either all finish or are left hanging
 * until the grace period passes. Returns how many rounds it took.
 */
async function windDown(w: World, sendsHang: boolean): Promise<number> {
  if (!w.stopSent) w.stop();
  await w.settle();
  for (let round = 1; round <= 50; round++) {
    if (w.actor.getSnapshot().status === "done") return round;
    if (w.openClaim()) w.answerClaim(0);
    else if (w.openRecord()) w.answerRecord(true);
    else if (w.sends.length && !sendsHang) w.finishSend(200);
    else w.clock.increment(Math.max(w.settings.shutdownGraceMs, w.settings.writeRetryMs));
    await w.settle();
    invariants(w, `wind-down round ${round}`);
  }
  return Infinity;
}

function ledger(w: World) {
  const written = w.records.filter((r) => r.ok);
  return {
    outcomes: written.flatMap((r) => r.batch.outcomes.map((o) => o.deliveryId)),
    released: written.flatMap((r) => r.batch.released.map((x) => x.deliveryId)),
    offered: new Set(
      w.records.flatMap((r) => [
        ...r.batch.outcomes.map((o) => o.deliveryId),
        ...r.batch.released.map((x) => x.deliveryId),
      ]),
    ),
  };
}

test("dispatcher: in-flight stays within the cap, no claim after stop, every claimed delivery is sent or released, stop completes", async () => {
  await fc.assert(
    fc.asyncProperty(commands, fc.boolean(), async (cmds, sendsHang) => {
      const w = createWorld();
      await w.settle();
      reachedThisRun = new Set();
      await fc.asyncModelRun(() => ({ model: { stopped: false }, real: w }), cmds);
      countRun();
      const rounds = await windDown(w, sendsHang);
      assert.ok(rounds < Infinity, `stop did not complete: ${JSON.stringify(w.actor.getSnapshot().value)}`);
      assert.equal(w.actor.getSnapshot().status, "done");
      assert.equal(w.openClaim(), undefined);
      assert.equal(w.claims.filter((c) => c.afterStop).length, 0, "claimed after stop");

      const { released, offered } = ledger(w);
      for (const row of w.claimed) {
        // Sent (whatever came of it), or given back, or judged unsendable and written.
        const unsent = w.records.some((r) => r.batch.outcomes.some((o) => o.deliveryId === row.id && !o.attempted));
        assert.ok(w.sent.has(row.id) || released.includes(row.id) || unsent, `${row.id} was neither sent nor released`);
      }
      // Nothing is lost on the way to the writer except by a crashed delivery actor (its claim expires).
      for (const row of w.claimed) {
        if (!offered.has(row.id)) assert.ok(w.sent.has(row.id), `${row.id} never reached the writer`);
      }
    }),
    { numRuns: RUNS },
  );
  for (const kind of MUST_REACH) {
    const runs = reached.get(kind) ?? 0;
    assert.ok(runs >= MIN_RUNS_REACHING, `only ${runs} of ${RUNS} runs reached "${kind}"`);
  }
});

test("dispatcher: stop completes within the grace period even if no send ever finishes", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: SETTINGS.maxInFlight }), async (n) => {
      const w = createWorld({ ...SETTINGS, batchSize: SETTINGS.maxInFlight });
      await w.settle();
      w.answerClaim(n);
      await w.settle();
      assert.equal(w.sends.length, n);
      w.stop();
      await w.settle();
      w.clock.increment(SETTINGS.shutdownGraceMs - 1);
      await w.settle();
      assert.notEqual(w.actor.getSnapshot().status, "done", "stopped before the grace period ended");
      w.clock.increment(1);
      await w.settle();
      while (w.openRecord()) {
        w.answerRecord(true);
        await w.settle();
      }
      assert.equal(w.actor.getSnapshot().status, "done");
      assert.deepEqual(ledger(w).released.sort(), w.claimed.map((r) => r.id).sort(), "every hanging send released");
      assert.equal(w.sends.length, 0, "hanging sends aborted");
    }),
    { numRuns: 20 },
  );
});

// Exactly once: an outcome for what finished, a release for what was still
// sending when the grace period ended, never both. (Once a bug, issue 4:
// finished delivery actors stayed among the dispatcher's children and were
// released again at shutdown. Now the pool releases only the deliveries
// still live when told to abandon them.)
test("dispatcher: each claimed delivery is written exactly once, as an outcome or a release", async () => {
  await fc.assert(
    fc.asyncProperty(commands, fc.boolean(), async (cmds, sendsHang) => {
      const w = createWorld();
      await w.settle();
      await fc.asyncModelRun(() => ({ model: { stopped: false }, real: w }), cmds);
      await windDown(w, sendsHang);
      if (w.records.some((r) => r.ok === false)) return; // a dropped write may lose rows by design
      const { outcomes, released } = ledger(w);
      for (const row of w.claimed) {
        if (!w.sends.every((s) => s.deliveryId !== row.id)) continue;
        const times = outcomes.filter((id) => id === row.id).length + released.filter((id) => id === row.id).length;
        const crashed = times === 0 && w.sent.has(row.id);
        assert.ok(crashed || times === 1, `${row.id} written ${times} times`);
      }
    }),
    { numRuns: RUNS },
  );
});

test("dispatcher: a row claimed again while its first delivery actor still sends (its claim ran out) reports both outcomes", async () => {
  const w = createWorld(SETTINGS, { ids: () => "d1" });
  await w.settle();
  w.answerClaim(1);
  await w.settle();
  await w.wakeAndClaim(1);
  assert.equal(w.sends.length, 2, "both claims are sending");
  assert.equal(w.activeDeliveries(), 2, "two delivery actors, one per claim");
  w.finishSend(200);
  w.finishSend(500);
  await w.settle();
  assert.equal(w.actor.getSnapshot().context.inFlight, 0, "both slots are free again");
  w.answerRecord(true);
  await w.settle();
  const recorded = w.records.flatMap((r) => r.batch.outcomes.map((o) => `${o.deliveryId} ${o.status}`));
  assert.deepEqual(recorded.sort(), ["d1 delivered", "d1 failed"]);
  w.stop();
});

test("dispatcher: a webhook actor whose endpoint goes a whole idle period unclaimed is retired; its next claim starts a fresh one", async () => {
  const w = createWorld();
  const retired: string[][] = [];
  w.actor.on("retired", ({ webhookIds }) => void retired.push(webhookIds));
  const live = (webhookId: string) => w.actor.system.get(`webhook:${webhookId}`) !== undefined;
  const claimFor = async (...webhookIds: string[]) => {
    if (!w.openClaim()) w.actor.send({ type: "WAKE" });
    await w.settle();
    w.answerClaim(webhookIds.length, (i) => ({ webhookId: webhookIds[i] }));
    await w.settle();
    while (w.sends.length > 0) w.finishSend(200);
    await w.settle();
    if (w.openRecord()) w.answerRecord(true);
    await w.settle();
  };
  const idlePeriod = async () => {
    w.clock.increment(w.settings.webhookIdleMs);
    await w.settle();
  };
  await w.settle();
  await claimFor("w1", "w2");
  assert.ok(live("w1") && live("w2"));

  await idlePeriod();
  assert.ok(live("w1") && live("w2"), "both were claimed during the period");
  await claimFor("w1");
  await idlePeriod();
  assert.ok(live("w1"), "w1 was claimed during the period");
  assert.equal(live("w2"), false, "w2 went the whole period unclaimed");
  assert.deepEqual(retired, [["w2"]]);

  await claimFor("w2", "w2");
  assert.ok(live("w2"), "a claim starts a new webhook actor");
  assert.equal(w.actor.system.get("webhook:w2")!.getSnapshot().context.consecutiveFailures, 0);
  await idlePeriod();
  assert.deepEqual([live("w1"), live("w2")], [false, true], "w1 unclaimed for this period, w2 claimed in it");
  await idlePeriod();
  assert.equal(live("w2"), false);
  assert.deepEqual(retired, [["w2"], ["w1"], ["w2"]], "each retirement reported once");
  w.stop();
  await w.settle();
  if (w.openClaim()) w.answerClaim(0);
  await w.settle();
  assert.equal(w.actor.getSnapshot().status, "done", "the sweep's region closes on STOP like the others");
});

test("dispatcher: a claim the database fails is tried again after a pause, and a WAKE during it is kept", async () => {
  const w = createWorld();
  await w.settle();
  w.actor.send({ type: "WAKE" });
  await w.settle();
  assert.ok(w.openClaim(), "the WAKE starts a claim");
  w.actor.send({ type: "WAKE" }); // a re-subscribed LISTEN, while the claim is failing
  w.failClaim();
  await w.settle();
  assert.ok(w.actor.getSnapshot().matches({ intake: "retryingClaim" }));
  assert.equal(w.openClaim(), undefined, "no claim at once: the database just failed one");

  w.clock.increment(w.settings.writeRetryMs);
  await w.settle();
  assert.ok(w.openClaim(), "claimed again after the pause, without waiting for the poll timer");
  w.answerClaim(1);
  await w.settle();
  assert.equal(w.sends.length, 1);
});

test("dispatcher: with sends in flight a claim waits for a quarter of a batch of free slots; with none in flight one is enough", async () => {
  const w = createWorld({ ...SETTINGS, batchSize: 8, maxInFlight: 8, threshold: 1_000_000 });
  await w.settle();
  w.actor.send({ type: "WAKE" });
  await w.settle();
  assert.equal(w.openClaim()?.limit, 8, "nothing in flight: a claim at once");
  w.answerClaim(8);
  await w.settle();
  assert.equal(w.sends.length, 8);
  w.finishSend(200);
  await w.settle();
  assert.equal(w.openClaim(), undefined, "one slot free of eight: no claim yet");
  w.finishSend(200);
  await w.settle();
  assert.equal(w.openClaim()?.limit, 2, "two free (a quarter of the batch): the claim goes out for them");
  w.answerClaim(0);
  await w.settle();
  while (w.sends.length > 0) w.finishSend(200);
  await w.settle();
  w.actor.send({ type: "WAKE" });
  await w.settle();
  assert.equal(w.openClaim()?.limit, 8, "nothing in flight again: a WAKE claims at once");
  w.stop();
});

test("dispatcher: a run of plain successes reaches the endpoint's actor as its last one, and only if it resets a count; failures each, in order", async () => {
  const heard: string[] = [];
  const w = createWorld({ ...SETTINGS, batchSize: 8, maxInFlight: 8 }, {
    inspect: (e) => {
      if (
        e.type === "@xstate.event" && (e.actorRef as AnyActorRef).id === "webhook:w1" && e.event.type === "FINISHED"
      ) {
        heard.push(`${e.event.outcome.deliveryId} ${e.event.outcome.status}`);
      }
    },
  });
  await w.settle();
  w.actor.send({ type: "WAKE" });
  await w.settle();
  const rows = w.answerClaim(8, () => ({ webhookId: "w1" }));
  await w.settle();
  const outcome = (id: string, status: "delivered" | "failed") => attemptOutcome(status, { deliveryId: id });
  // One report, as the pool sends it when several sends finish in one turn.
  const [a, b, c, d, e, f, g, h] = rows.map((r) => r.id);
  w.actor.send({
    type: "DELIVERIES.FINISHED",
    outcomes: [outcome(a, "delivered"), outcome(b, "delivered"), outcome(c, "failed"), outcome(d, "delivered")],
  });
  await w.settle();
  assert.deepEqual(heard, [`${b} delivered`, `${c} failed`, `${d} delivered`]);
  const webhook = w.actor.system.get("webhook:w1")!;
  assert.equal(webhook.getSnapshot().context.consecutiveFailures, 0, "the last success reset the count");
  w.actor.send({ type: "DELIVERIES.FINISHED", outcomes: [outcome(e, "failed"), outcome(f, "failed")] });
  await w.settle();
  assert.deepEqual(heard.slice(3), [`${e} failed`, `${f} failed`]);
  assert.equal(webhook.getSnapshot().context.consecutiveFailures, 2);
  // A report of successes only: it resets the count the earlier report left.
  w.actor.send({ type: "DELIVERIES.FINISHED", outcomes: [outcome(g, "delivered")] });
  await w.settle();
  assert.deepEqual(heard.slice(5), [`${g} delivered`]);
  assert.equal(webhook.getSnapshot().context.consecutiveFailures, 0, "a success in a later report reset the count");
  // Nothing left to reset: the next success changes nothing, and is not sent.
  w.actor.send({ type: "DELIVERIES.FINISHED", outcomes: [outcome(h, "delivered")] });
  await w.settle();
  assert.deepEqual(heard.slice(6), []);
  assert.equal(webhook.getSnapshot().context.consecutiveFailures, 0);
  w.stop();
});

test("dispatcher: rows whose endpoint's actor would only start them go to the pool in one event; a paused endpoint's actor still hears its rows and holds them", async () => {
  const heard: string[] = [];
  const settings = { ...SETTINGS, batchSize: 8, maxInFlight: 8, policy: { ...DWCTL_POLICY, retryAfterMaxSecs: 60 } };
  const w = createWorld(settings, {
    inspect: (e) => {
      if (e.type !== "@xstate.event" || (e.event.type !== "CLAIMED" && e.event.type !== "DELIVER")) return;
      const from = (e.sourceRef as AnyActorRef | undefined)?.id ?? "";
      const to = (e.actorRef as AnyActorRef).id;
      heard.push(
        `${from.startsWith("webhook:") ? from : "dispatcher"} → ${to}: ${e.event.type} ${e.event.rows.length}`,
      );
    },
  });
  const split = (i: number) => ({ webhookId: i % 2 === 0 ? "w1" : "w2" });
  await w.settle();
  w.actor.send({ type: "WAKE" });
  await w.settle();
  const first = w.answerClaim(4, split);
  await w.settle();
  assert.deepEqual(heard.toSorted(), [
    "dispatcher → webhook:w1: CLAIMED 2",
    "dispatcher → webhook:w2: CLAIMED 2",
    "webhook:w1 → deliveries: DELIVER 2",
    "webhook:w2 → deliveries: DELIVER 2",
  ], "new endpoints' actors hear their first rows");
  // w1 answers 429 with Retry-After: its actor pauses the endpoint.
  w.finishSend(429, first[0].id, 30);
  for (const row of first.slice(1)) w.finishSend(200, row.id);
  await w.settle();
  while (w.openRecord()) {
    w.answerRecord(true);
    await w.settle();
  }
  assert.ok(w.actor.system.get("webhook:w1")!.getSnapshot().matches({ pace: "paused" }));
  assert.ok(w.actor.system.get("webhook:w2")!.getSnapshot().matches({ breaker: "closed", pace: "flowing" }));

  heard.length = 0;
  w.actor.send({ type: "WAKE" });
  await w.settle();
  const second = w.answerClaim(4, split);
  await w.settle();
  assert.deepEqual(heard, ["dispatcher → webhook:w1: CLAIMED 2", "dispatcher → deliveries: DELIVER 2"]);
  const [w1Rows, w2Rows] = [second.filter((r) => r.webhookId === "w1"), second.filter((r) => r.webhookId === "w2")];
  assert.deepEqual(w.sends.map((s) => s.deliveryId).toSorted(), w2Rows.map((r) => r.id).toSorted(), "w2's rows sent");
  assert.ok(w1Rows.every((r) => !w.sent.has(r.id)), "the paused endpoint's rows are not sent");
  while (w.sends.length > 0) w.finishSend(200);
  await w.settle();
  while (w.openRecord()) {
    w.answerRecord(true);
    await w.settle();
  }
  const released = w.records.flatMap((r) => r.batch.released.map((x) => x.deliveryId));
  assert.deepEqual(released.toSorted(), w1Rows.map((r) => r.id).toSorted(), "the paused endpoint's rows go back");
  w.stop();
});

test("dispatcher: a claim waits until the failures collected before it are written, through failed writes; successes never hold it", async () => {
  const w = createWorld();
  await w.settle();
  w.answerClaim(2);
  await w.settle();
  // A success, unwritten: the next claim does not wait for it.
  w.finishSend(200, "d1");
  await w.settle();
  w.actor.send({ type: "WAKE" });
  await w.settle();
  assert.ok(w.openRecord(), "the success is being written");
  assert.ok(w.openClaim(), "a claim starts while the success is unwritten");
  w.answerClaim(0);
  await w.settle();
  w.answerRecord(true);
  await w.settle();

  // A failure, unwritten: a claim wanted now waits for it.
  w.finishSend(500, "d2");
  await w.settle();
  w.actor.send({ type: "WAKE" });
  await w.settle();
  assert.ok(w.actor.getSnapshot().matches({ intake: "waitingForWrites" }));
  assert.equal(w.openClaim(), undefined, "no claim while the failure is unwritten");
  w.answerRecord(false);
  await w.settle();
  w.clock.increment(w.settings.writeRetryMs);
  await w.settle();
  assert.equal(w.openClaim(), undefined, "nor after the write failed, while it is tried again");
  assert.deepEqual(w.openRecord()!.batch.outcomes.map((o) => o.deliveryId), ["d2"]);
  w.answerRecord(true);
  await w.settle();
  assert.ok(w.openClaim(), "the claim starts once the failure is written");
  w.stop();
});

test("dispatcher: after STOP, a writer whose writes keep failing gives up after three retries, and the dispatcher finishes", async () => {
  const w = createWorld();
  const failures: unknown[] = [];
  w.actor.on("writeFailed", ({ error }) => void failures.push(error));
  await w.settle();
  w.answerClaim(1);
  await w.settle();
  w.finishSend(200);
  await w.settle();
  w.stop();
  await w.settle();
  for (let attempt = 1; attempt <= 4; attempt++) {
    assert.notEqual(w.actor.getSnapshot().status, "done", `still writing before failed write ${attempt}`);
    w.answerRecord(false);
    await w.settle();
    w.clock.increment(w.settings.writeRetryMs);
    await w.settle();
  }
  assert.equal(w.actor.getSnapshot().status, "done");
  assert.equal(w.openRecord(), undefined, "no fifth write");
  assert.equal(w.records.length, 4);
  assert.equal(failures.length, 4, "each failed write is reported");
});
