// Where delivery actors live: the dispatcher hands each claimed batch to the
// pool, the pool spawns one delivery actor per row (a child in the same actor
// system, so the inspector sees it) and reports finished outcomes back in
// batches. Keeping the actors out of the dispatcher machine's own children
// keeps that machine's work per batch, not per delivery: XState copies a
// machine's children map on every spawn and stop, and runs a whole macrostep
// for every child's done event. Each delivery actor runs its machine through
// flatMachine (flat-machine.ts): the same definition and effects without
// XState's general interpreter, which cost more per delivery than anything
// but fetch.
import { type AnyActorRef, createActor, type DoneActorEvent, type ErrorActorEvent, fromCallback } from "xstate";
import { flatMachine } from "./flat-machine.ts";
import type { ClaimedDelivery, DeliveryInput, deliveryMachine, DeliveryOutcome, DeliveryPolicy } from "./delivery.ts";

/** A claim given back unsent (shutdown past its grace): due again at once, no attempt counted. */
export type Release = {
  deliveryId: string;
  webhookId: string;
  attemptsBefore: number;
  /** Due again this many seconds from now (a paused endpoint's rows); 0 or absent: at once. */
  delaySecs?: number;
};

/** The claim of `row` given back unsent, due again after `delaySecs` (at once without). */
export const releaseOf = (row: ClaimedDelivery, delaySecs?: number): Release => ({
  deliveryId: row.id,
  webhookId: row.webhookId,
  attemptsBefore: row.attemptCount,
  ...(delaySecs === undefined ? {} : { delaySecs }),
});

export type PoolInput = { schedule: readonly number[]; policy?: DeliveryPolicy };

export type PoolEvent =
  | { type: "DELIVER"; rows: ClaimedDelivery[] }
  /** Stop every delivery in flight and report their claims as released. */
  | { type: "ABANDON" };

export type PoolReport =
  | { type: "DELIVERIES.FINISHED"; outcomes: DeliveryOutcome[] }
  /** Delivery actors that threw (a bug): their claims stay until the crash-safety window ends. */
  | { type: "DELIVERIES.CRASHED"; deliveryIds: string[] }
  | { type: "DELIVERIES.RELEASED"; released: Release[] };

type DeliveryLogic = typeof deliveryMachine;
/** Each delivery actor is `delivery:<row id>` in the actor system (the inspector and the live feed find it so). */
export const DELIVERY_ACTOR_PREFIX = "delivery:";

type Live = { ref: AnyActorRef; delivery: ClaimedDelivery };

const REPORT = "POOL.REPORT";
/** What the pool hears: the dispatcher's requests, its own report timer, and its delivery actors ending. */
type Received =
  | PoolEvent
  | { type: typeof REPORT }
  | DoneActorEvent<DeliveryOutcome>
  | ErrorActorEvent;
// A child (it has a parent) cannot be stop()ped; the stop event is how a
// parent stops one.
const stop = (ref: AnyActorRef) => ref.send({ type: "xstate.stop" });

/**
 * The pool for a delivery machine (pass the one with its effects provided).
 * Outcomes go back in one report per turn of the event loop: the first
 * finish schedules the report on the actor system's clock (delay 0), and
 * everything that finishes before it fires joins it. Each fetch answer is a
 * task of its own, so a report per finish would cost the dispatcher a whole
 * step per delivery.
 */
export function deliveryPool(delivery: DeliveryLogic) {
  const logic = flatMachine(delivery);
  return fromCallback<Received, PoolInput, PoolReport>(
    ({ input, receive, sendBack, self, system }) => {
      const live = new Map<string, Live>();
      let finished: DeliveryOutcome[] = [];
      let crashed: string[] = [];
      let reportQueued = false;
      let reclaims = 0;

      const report = () => {
        reportQueued = false;
        if (finished.length > 0) sendBack({ type: "DELIVERIES.FINISHED", outcomes: finished });
        if (crashed.length > 0) sendBack({ type: "DELIVERIES.CRASHED", deliveryIds: crashed });
        finished = [];
        crashed = [];
      };
      const queueReport = () => {
        if (reportQueued) return;
        reportQueued = true;
        system.scheduler.schedule(self, self, { type: REPORT }, 0, REPORT);
      };

      receive((event) => {
        if (event.type === REPORT) {
          if (reportQueued) report();
        } else if (event.type === "DELIVER") {
          for (const row of event.rows) {
            // A row whose claim ran out mid-send can be claimed again while
            // its first actor still runs: the second gets an id of its own.
            let id = `${DELIVERY_ACTOR_PREFIX}${row.id}`;
            if (live.has(id)) id = `${id}~${++reclaims}`;
            const deliveryInput: DeliveryInput = { delivery: row, schedule: input.schedule, policy: input.policy };
            const ref = createActor(logic, { parent: self, id, input: deliveryInput });
            live.set(id, { ref, delivery: row });
            ref.start();
          }
        } else if (event.type === "ABANDON") {
          if (reportQueued) report(); // what finished before the abandon is an outcome, not a release
          const released: Release[] = [];
          for (const { ref, delivery } of live.values()) {
            stop(ref);
            released.push(releaseOf(delivery));
          }
          live.clear();
          sendBack({ type: "DELIVERIES.RELEASED", released });
        } else if ("output" in event) {
          // A delivery actor finished: its outcome.
          if (!live.delete(event.actorId)) return;
          finished.push(event.output);
          queueReport();
        } else {
          // A delivery actor threw.
          const entry = live.get(event.actorId);
          if (!entry) return;
          live.delete(event.actorId);
          crashed.push(entry.delivery.id);
          queueReport();
        }
      });

      return () => {
        for (const { ref } of live.values()) stop(ref);
        live.clear();
      };
    },
  );
}
