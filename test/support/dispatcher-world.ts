// A world for the pure dispatcher machine in which the test decides
// everything: when a claim returns and with what, when each send finishes and
// how, when a result write succeeds or fails, and what time it is (a
// SimulatedClock). The real delivery and webhook machines run inside it;
// only their I/O is fake. Used by the model-based tests and the path runs.
import { type Actor, createActor, fromPromise, type InspectionEvent, SimulatedClock } from "xstate";
import { type ClaimedDelivery, deliveryMachine, type SendResult, type SignedRequest } from "../../machines/delivery.ts";
import { type DispatcherSettings, dispatcherMachine, type RecordedWebhook, type ResultBatch } from "../../machines/dispatcher.ts";

export type PendingClaim = { limit: number; afterStop: boolean; resolve(rows: ClaimedDelivery[]): void; reject(error: Error): void };
export type PendingSend = { deliveryId: string; resolve(result: SendResult | null): void; aborted: boolean };
export type PendingRecord = { batch: ResultBatch; resolve(webhooks: RecordedWebhook[]): void; reject(error: Error): void };

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
  stopSent: boolean;
  /** Lets promise callbacks and the actor's reactions to them run. */
  settle(): Promise<void>;
  openClaim(): (PendingClaim & { open: boolean }) | undefined;
  openRecord(): (PendingRecord & { open: boolean; ok?: boolean }) | undefined;
  /** Answers the open claim with `count` fresh rows (never more than it asked for). */
  answerClaim(count: number, pick?: (i: number) => Partial<ClaimedDelivery>): ClaimedDelivery[];
  failClaim(): void;
  /** Finishes the send of `deliveryId` (or the oldest) with an HTTP status, or crashes the delivery actor (null). */
  finishSend(status: number | null, deliveryId?: string): string | undefined;
  answerRecord(ok: boolean): void;
  stop(): void;
  activeDeliveries(): number;
};

export const SETTINGS: DispatcherSettings = {
  batchSize: 3,
  maxInFlight: 4,
  pollIntervalMs: 1000,
  shutdownGraceMs: 5000,
  writeRetryMs: 500,
  schedule: [0, 5, 300],
  threshold: 3,
};

export type WorldOptions = {
  /** Delivery ids for claimed rows, by claim order (default d1, d2, …). */
  ids?: (n: number) => string;
  inspect?: (event: InspectionEvent) => void;
};

export function createWorld(settings: DispatcherSettings = SETTINGS, options: WorldOptions = {}): World {
  let next = 0;
  const ids = options.ids ?? ((n) => `d${n}`);
  const world = {} as World;
  const delivery = deliveryMachine.provide({
    actors: {
      sign: fromPromise<SignedRequest, ClaimedDelivery>(async ({ input }) => ({
        url: input.url!,
        headers: { "x-delivery": input.id },
        body: input.payload,
      })),
      send: fromPromise<SendResult, SignedRequest>(({ input, signal }) =>
        new Promise((resolve) => {
          const id = input.headers["x-delivery"];
          world.sent.add(id);
          const pending: PendingSend = { deliveryId: id, aborted: false, resolve: (r) => resolve(r as SendResult) };
          signal.addEventListener("abort", () => {
            pending.aborted = true;
            world.sends = world.sends.filter((s) => s !== pending);
          });
          world.sends.push(pending);
        })
      ),
    },
  });
  const machine = dispatcherMachine.provide({
    actors: {
      delivery,
      claim: fromPromise<ClaimedDelivery[], { limit: number }>(({ input }) =>
        new Promise((resolve, reject) => {
          world.claims.push({ limit: input.limit, afterStop: world.stopSent, resolve, reject, open: true });
        })
      ),
      recordOutcomes: fromPromise<RecordedWebhook[], ResultBatch>(({ input }) =>
        new Promise((resolve, reject) => {
          world.records.push({ batch: input, resolve, reject, open: true });
        })
      ),
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
    stopSent: false,
    async settle() {
      for (let i = 0; i < 40; i++) await Promise.resolve();
    },
    openClaim: () => world.claims.find((c) => c.open),
    openRecord: () => world.records.find((r) => r.open),
    answerClaim(count: number, pick?: (i: number) => Partial<ClaimedDelivery>) {
      const claim = world.openClaim()!;
      claim.open = false;
      const rows: ClaimedDelivery[] = [];
      for (let i = 0; i < Math.min(count, claim.limit); i++) {
        const id = ids(++next);
        rows.push({
          id, webhookId: "w1", eventId: `e-${id}`, eventType: "batch.completed", payload: "{}",
          attemptCount: 0, url: "https://receiver.example/hook", webhookEnabled: true, consecutiveFailures: 0,
          webhookVersion: 1, ...pick?.(i),
        });
      }
      world.claimed.push(...rows);
      claim.resolve(rows);
      return rows;
    },
    failClaim() {
      const claim = world.openClaim()!;
      claim.open = false;
      claim.reject(new Error("database unavailable"));
    },
    finishSend(status: number | null, deliveryId?: string) {
      const send = deliveryId === undefined ? world.sends[0] : world.sends.find((s) => s.deliveryId === deliveryId);
      if (!send) return undefined;
      world.sends = world.sends.filter((s) => s !== send);
      // null crashes the delivery actor: its guard reads a result that is not there.
      send.resolve(status === null ? null : { kind: "response", statusCode: status, responseBody: "", durationMs: 1 });
      return send.deliveryId;
    },
    answerRecord(ok: boolean) {
      const record = world.openRecord()!;
      record.open = false;
      record.ok = ok;
      if (ok) record.resolve([]);
      else record.reject(new Error("database unavailable"));
    },
    stop() {
      world.stopSent = true;
      world.actor.send({ type: "STOP" });
    },
    activeDeliveries() {
      return Object.values(world.actor.getSnapshot().children)
        .filter((child) => child && child.id.startsWith("delivery:") && child.getSnapshot().status === "active").length;
    },
  });
  world.actor = createActor(machine, { input: settings, clock, inspect: options.inspect });
  world.actor.subscribe({ error: () => {} });
  world.actor.start();
  return world;
}
