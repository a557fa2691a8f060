// A world for the pure dispatcher machine in which the test decides
// everything: when a claim returns and with what, when each send finishes and
// how, when a result write succeeds or fails, and what time it is (a
// SimulatedClock). The real delivery pool, delivery, webhook and result
// writer machines run inside it; only their I/O is fake. Used by the
// model-based tests and the path runs.
import {
  type Actor,
  type AnyActorRef,
  type AnyEventObject,
  createActor,
  fromCallback,
  fromPromise,
  type InspectionEvent,
  SimulatedClock,
} from "xstate";
import type { ClaimedDelivery, DeliveryOutcome, SendResult } from "../../machines/delivery.ts";
import { deliveryPool, type PoolReport } from "../../machines/delivery-pool.ts";
import { dispatcherMachine, dispatcherResultWriter, type DispatcherSettings } from "../../machines/dispatcher.ts";
import type { Recorded, ResultBatch } from "../../machines/result-writer.ts";
import { withEffects } from "../../src/send/delivery-effects.ts";
import { claimedDelivery } from "./delivery-fixtures.ts";

export type PendingClaim = {
  limit: number;
  afterStop: boolean;
  /**
   * Failed attempts the dispatcher had collected when it asked its writer
   * for this claim that were not written when the claim started: the claim
   * barrier says there are none.
   */
  unwrittenFailures: DeliveryOutcome[];
  resolve(rows: ClaimedDelivery[]): void;
  reject(error: Error): void;
};
export type PendingSend = { deliveryId: string; resolve(result: SendResult | null): void; aborted: boolean };
export type PendingRecord = {
  batch: ResultBatch;
  resolve(recorded: Recorded): void;
  reject(error: Error): void;
};

export type World = {
  actor: Actor<typeof dispatcherMachine>;
  clock: SimulatedClock;
  settings: DispatcherSettings;
  /** Every claim ever started, in order; `open` ones still await an answer. */
  claims: (PendingClaim & { open: boolean })[];
  /** Sends in flight, oldest first. */
  sends: PendingSend[];
  records: (PendingRecord & { open: boolean; ok?: boolean })[];
  claimed: ClaimedDelivery[];
  sent: Set<string>;
  /** Outcomes in the order the pool reported them to the dispatcher. */
  finished: DeliveryOutcome[];
  stopSent: boolean;
  /** Lets promise callbacks and the actor's reactions to them run. */
  settle(): Promise<void>;
  openClaim(): (PendingClaim & { open: boolean }) | undefined;
  openRecord(): (PendingRecord & { open: boolean; ok?: boolean }) | undefined;
  /** Answers the open claim with `count` fresh rows (never more than it asked for). */
  answerClaim(count: number, pick?: (i: number) => Partial<ClaimedDelivery>): ClaimedDelivery[];
  /** Sends WAKE and answers the claim it starts with `count` fresh rows, settling after each. */
  wakeAndClaim(count: number): Promise<void>;
  failClaim(): void;
  /** Finishes the send of `deliveryId` (or the oldest) with an HTTP status, or crashes the delivery actor (null). */
  finishSend(status: number | null, deliveryId?: string, retryAfter?: number): string | undefined;
  answerRecord(ok: boolean): void;
  /** With `holdReleases`: the pool's release report (its answer to ABANDON) not yet passed to the dispatcher. */
  heldRelease(): PoolReport | undefined;
  /** With `holdReleases`: passes the held release report on. */
  passRelease(): void;
  stop(): void;
  /** Delivery actors (children of the pool) that are still running. */
  activeDeliveries(): number;
};

export const SETTINGS: DispatcherSettings = {
  batchSize: 3,
  maxInFlight: 4,
  pollIntervalMs: 1000,
  shutdownGraceMs: 5000,
  writeRetryMs: 500,
  webhookIdleMs: 60_000,
  schedule: [0, 5, 300],
  threshold: 3,
};

export type WorldOptions = {
  /** Delivery ids for claimed rows, by claim order (default d1, d2, …). */
  ids?: (n: number) => string;
  inspect?: (event: InspectionEvent) => void;
  /**
   * Keep the pool's DELIVERIES.RELEASED report until the test passes it on
   * (passRelease). The real pool answers ABANDON at once, so the dispatcher
   * never rests in `abandoning`; holding the answer lets a path stop there.
   */
  holdReleases?: boolean;
};

export function createWorld(settings: DispatcherSettings = SETTINGS, options: WorldOptions = {}): World {
  let next = 0;
  const ids = options.ids ?? ((n) => `d${n}`);
  const world = {} as World;
  const deliveryActors = new Set<AnyActorRef>();
  const delivery = withEffects({
    sign: async (row) => ({ url: row.url!, headers: { "x-delivery": row.id }, body: row.payload }),
    send: (request, actor) =>
      new Promise((resolve) => {
        const id = request.headers["x-delivery"];
        world.sent.add(id);
        const pending: PendingSend = { deliveryId: id, aborted: false, resolve: (r) => resolve(r as SendResult) };
        // Abandoned: the pool stopped the delivery actor while it was sending.
        // The edge aborts such a send; here it leaves the world's open sends.
        actor.subscribe({
          complete: () => {
            if (actor.getSnapshot().status !== "stopped") return;
            pending.aborted = true;
            world.sends = world.sends.filter((s) => s !== pending);
          },
          // A crash (finishSend(null)) is the pool's to report; the send is over already.
          error: () => {},
        });
        world.sends.push(pending);
      }),
  });
  // The real pool. When the test holds releases, the same pool runs with a
  // sendBack of ours that keeps its release report back (fromCallback keeps
  // its callback as the logic's config); every other report passes at once.
  let held: { report: PoolReport; pass(): void } | undefined;
  let failuresBeforeClaim: DeliveryOutcome[] = [];
  const pool = deliveryPool(delivery);
  type PoolCallback = (args: { sendBack(report: AnyEventObject): void }) => (() => void) | void;
  const poolCallback = (pool as { config?: unknown }).config as PoolCallback;
  if (typeof poolCallback !== "function") throw new Error("the delivery pool is no longer a fromCallback actor");
  const holdingPool = fromCallback((args) =>
    poolCallback({
      ...args,
      sendBack: (report) => {
        if (report.type === "DELIVERIES.RELEASED") {
          if (held) throw new Error("a second release report while one is held");
          held = { report: report as PoolReport, pass: () => args.sendBack(report) };
        } else {
          args.sendBack(report);
        }
      },
    })
  ) as unknown as typeof pool;
  const deliveries = options.holdReleases ? holdingPool : pool;
  const machine = dispatcherMachine.provide({
    actors: {
      deliveries,
      claim: fromPromise<ClaimedDelivery[], { limit: number }>(({ input }) =>
        new Promise((resolve, reject) => {
          const written = new Set(world.records.filter((r) => r.ok).flatMap((r) => r.batch.outcomes));
          world.claims.push({
            limit: input.limit,
            afterStop: world.stopSent,
            unwrittenFailures: failuresBeforeClaim.filter((outcome) => !written.has(outcome)),
            resolve,
            reject,
            open: true,
          });
        })
      ),
      resultWriter: dispatcherResultWriter.provide({
        actors: {
          recordOutcomes: fromPromise<Recorded, ResultBatch>(({ input }) =>
            new Promise((resolve, reject) => {
              world.records.push({ batch: input, resolve, reject, open: true });
            })
          ),
        },
      }),
    },
  });
  const clock = new SimulatedClock();
  Object.assign(world, {
    clock,
    settings,
    claims: [],
    sends: [],
    records: [],
    claimed: [],
    sent: new Set<string>(),
    finished: [],
    stopSent: false,
    async settle() {
      // Promise callbacks, and the pool's report timer (0 ms on the actor system's clock).
      for (let i = 0; i < 40; i++) {
        await Promise.resolve();
        clock.increment(0);
      }
    },
    openClaim: () => world.claims.find((c) => c.open),
    openRecord: () => world.records.find((r) => r.open),
    answerClaim(count: number, pick?: (i: number) => Partial<ClaimedDelivery>) {
      const claim = world.openClaim()!;
      claim.open = false;
      const rows: ClaimedDelivery[] = [];
      for (let i = 0; i < Math.min(count, claim.limit); i++) {
        const id = ids(++next);
        rows.push(claimedDelivery({ id, eventId: `e-${id}`, ...pick?.(i) }));
      }
      world.claimed.push(...rows);
      claim.resolve(rows);
      return rows;
    },
    async wakeAndClaim(count: number) {
      world.actor.send({ type: "WAKE" });
      await world.settle();
      world.answerClaim(count);
      await world.settle();
    },
    failClaim() {
      const claim = world.openClaim()!;
      claim.open = false;
      claim.reject(new Error("database unavailable"));
    },
    finishSend(status: number | null, deliveryId?: string, retryAfter?: number) {
      const send = deliveryId === undefined ? world.sends[0] : world.sends.find((s) => s.deliveryId === deliveryId);
      if (!send) return undefined;
      world.sends = world.sends.filter((s) => s !== send);
      // null crashes the delivery actor: its guard reads a result that is not there.
      send.resolve(
        status === null ? null : {
          kind: "response",
          statusCode: status,
          responseBody: "",
          durationMs: 1,
          ...(retryAfter && { retryAfter }),
        },
      );
      return send.deliveryId;
    },
    answerRecord(ok: boolean) {
      const record = world.openRecord()!;
      record.open = false;
      record.ok = ok;
      if (ok) record.resolve({ webhooks: [], exhausted: 0 });
      else record.reject(new Error("database unavailable"));
    },
    heldRelease: () => held?.report,
    passRelease() {
      const release = held!;
      held = undefined;
      release.pass();
    },
    stop() {
      world.stopSent = true;
      world.actor.send({ type: "STOP" });
    },
    activeDeliveries() {
      let active = 0;
      for (const actor of deliveryActors) {
        if (actor.getSnapshot().status === "active") active++;
        else deliveryActors.delete(actor);
      }
      return active;
    },
  });
  world.actor = createActor(machine, {
    input: settings,
    clock,
    inspect: (event) => {
      // What the dispatcher heard from the pool, and what it had heard when it asked for a claim.
      if (
        event.type === "@xstate.event" && event.actorRef === world.actor && event.event.type === "DELIVERIES.FINISHED"
      ) {
        world.finished.push(...event.event.outcomes as DeliveryOutcome[]);
      }
      if (event.type === "@xstate.event" && event.event.type === "CLAIM.WANTED") {
        failuresBeforeClaim = world.finished.filter((o) => o.attempted && o.status !== "delivered");
      }
      // Every delivery actor the pool starts, wherever it sits in the tree.
      const ref = event.actorRef as AnyActorRef;
      if (event.type === "@xstate.actor" && ref.id.startsWith("delivery:")) deliveryActors.add(ref);
      options.inspect?.(event);
    },
  });
  world.actor.subscribe({ error: () => {} });
  world.actor.start();
  return world;
}
