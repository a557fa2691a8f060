// The dispatcher: wakes on NOTIFY (WAKE) or its poll timer, claims at most as
// many due rows as it has free send slots, hands them to the delivery pool
// (one delivery actor per row), keeps a webhook actor per endpoint, and hands
// finished outcomes to the result writer (machines/result-writer.ts), which
// records them in batches and tells it when a claim may start. A webhook actor
// whose endpoint had no claim for a whole idle period is stopped (the database
// keeps its counter; a later claim starts a new one). On STOP it
// claims no more, gives in-flight sends the grace period, releases what is
// left, and finishes once the writer has written it all.
import {
  type AnyActorRef,
  assign,
  emit,
  enqueueActions,
  fromPromise,
  sendParent,
  sendTo,
  setup,
  stateIn,
} from "xstate";
import { type ClaimedDelivery, deliveryMachine, type DeliveryOutcome, type DeliveryPolicy } from "./delivery.ts";
import { deliveryPool, type PoolEvent, type PoolReport, type Release, releaseOf } from "./delivery-pool.ts";
import {
  type Failure,
  type Recorded,
  type RecordedWebhook,
  type ResultBatch,
  resultWriterMachine,
  type WriterEvent,
  type WriterReport,
  type Written,
} from "./result-writer.ts";
import { claimOnlyStartsRows, successResets, type WebhookEvent, webhookMachine } from "./webhook.ts";

export type DispatcherSettings = {
  batchSize: number;
  maxInFlight: number;
  pollIntervalMs: number;
  shutdownGraceMs: number;
  /** Back-off before a failed result write is tried again. */
  writeRetryMs: number;
  schedule: readonly number[];
  threshold: number;
  /** A webhook actor whose endpoint had no claim for this long is retired. */
  webhookIdleMs: number;
  /** How attempts are judged (jitter, Retry-After, 410); dwctl's when absent. */
  policy?: DeliveryPolicy;
  /** A tripped breaker's first cool-down; null or absent: open until re-enabled (dwctl). */
  coolDownMs?: number | null;
  coolDownMaxMs?: number;
};

export type { Recorded, RecordedWebhook, Release, ResultBatch };

export type DispatcherEvent =
  | { type: "WAKE" }
  | { type: "STOP" }
  | { type: "WEBHOOK.REENABLED"; webhookId: string }
  /** A webhook actor held claimed rows back (its endpoint is paused): their claims go back. */
  | { type: "WEBHOOK.HELD"; released: Release[] }
  | PoolReport
  | WriterReport;

export type DispatcherEmitted =
  | { type: "claimed"; count: number }
  | { type: "finished"; outcomes: DeliveryOutcome[] }
  /** exhausted: rows this write left exhausted, as the database decided (a cool-down keeps some failed). */
  | { type: "recorded"; webhooks: RecordedWebhook[]; outcomes: number; released: number; exhausted: number }
  | { type: "claimFailed"; error: unknown }
  | { type: "writeFailed"; error: unknown }
  | { type: "retired"; webhookIds: string[] };

type Context = {
  settings: DispatcherSettings;
  inFlight: number;
  /** Rows may be due that the last claim did not take: claim again when a slot frees. */
  moreDue: boolean;
  /** How many rows the claim in progress asked for: a full answer means more may be due. */
  claimLimit: number;
  /** Webhook actors whose endpoint was claimed since the last idle sweep. */
  claimedWebhooks: ReadonlySet<string>;
};

/** Free slots a claim waits for while sends are in flight: a quarter of a batch. */
const refillAt = ({ batchSize, maxInFlight }: DispatcherSettings) =>
  Math.max(1, Math.floor(Math.min(batchSize, maxInFlight) / 4));
const POOL = "deliveries";
/** The result writer's id and systemId. */
export const WRITER = "writer";

/** The webhook machine with its effects: rows go to the delivery pool, held ones and wake-ups to the dispatcher. */
const endpointMachine = webhookMachine.provide({
  actions: {
    startRows: sendTo(({ system }) => system.get(POOL), (_, rows: ClaimedDelivery[]) => ({ type: "DELIVER", rows })),
    holdRows: sendParent((_, held: { rows: ClaimedDelivery[]; delayMs: number }) => ({
      type: "WEBHOOK.HELD",
      released: held.rows.map((row) => releaseOf(row, Math.ceil(held.delayMs / 1000))),
    })),
    wakeDispatcher: sendParent({ type: "WAKE" }),
  },
});
/**
 * The result writer with its effects: what it has to say goes to the
 * dispatcher. Provide its recordOutcomes actor on this one.
 */
export const dispatcherResultWriter = resultWriterMachine.provide({
  actions: {
    reportWritten: sendParent((_, written: Written): WriterReport => ({ type: "WRITTEN", ...written })),
    reportFailuresWritten: sendParent({ type: "FAILURES.WRITTEN" } satisfies WriterReport),
    reportWriteFailed: sendParent((_, { error }: Failure): WriterReport => ({ type: "WRITE.FAILED", error })),
  },
});
export const WEBHOOK_ACTOR_PREFIX = "webhook:";
/** A success that is not the probe and asks no pause: all it tells the webhook actor is "reset". */
const plainSuccess = (o: DeliveryOutcome) => o.status === "delivered" && !o.probe && !o.gone && !o.pauseSecs;
const webhookActorId = (webhookId: string) => `${WEBHOOK_ACTOR_PREFIX}${webhookId}`;

export const dispatcherMachine = setup({
  types: {
    context: {} as Context,
    input: {} as DispatcherSettings,
    events: {} as DispatcherEvent,
    emitted: {} as DispatcherEmitted,
  },
  actors: {
    deliveries: deliveryPool(deliveryMachine),
    webhook: endpointMachine,
    resultWriter: dispatcherResultWriter,
    claim: fromPromise<ClaimedDelivery[], { limit: number }>(() => Promise.resolve([])),
  },
  delays: {
    pollInterval: ({ context }) => context.settings.pollIntervalMs,
    shutdownGrace: ({ context }) => context.settings.shutdownGraceMs,
    webhookIdle: ({ context }) => context.settings.webhookIdleMs,
    // A failed claim is tried again after the same pause as a failed write.
    claimRetry: ({ context }) => context.settings.writeRetryMs,
  },
  guards: {
    // With sends in flight, a claim waits until a quarter of a batch of slots
    // is free: claims of a few rows each cost Postgres and the dispatcher as
    // much per claim as full ones (BENCHMARKS.md, "Service CPU per delivery").
    // With nothing in flight, one free slot is enough, so a quiet dispatcher
    // claims a new row at once.
    moreDueAndFreeSlots: ({ context: { moreDue, inFlight, settings } }) =>
      moreDue && settings.maxInFlight - inFlight >= (inFlight === 0 ? 1 : refillAt(settings)),
    nothingInFlight: ({ context }) => context.inFlight === 0,
    stopWasRequested: stateIn("#dispatcher.intake.claiming.stopRequested"),
  },
  actions: {
    markMoreDue: assign({ moreDue: true }),
    reportClaimFailed: emit((_, { error }: Failure): DispatcherEmitted => ({ type: "claimFailed", error })),
    reportWriteFailed: emit((_, { error }: Failure): DispatcherEmitted => ({ type: "writeFailed", error })),
    // The writer answers with FAILURES.WRITTEN once the failures collected so far are written.
    askForClaim: sendTo(WRITER, { type: "CLAIM.WANTED" } satisfies WriterEvent),
    closeWriter: sendTo(WRITER, { type: "CLOSE" } satisfies WriterEvent),
    startClaim: assign({
      moreDue: false,
      claimLimit: ({ context }) =>
        Math.min(context.settings.batchSize, context.settings.maxInFlight - context.inFlight),
    }),
    startDeliveries: enqueueActions(({ context, enqueue, system }, rows: ClaimedDelivery[]) => {
      // Each endpoint's actor decides whether its rows start now; the rows
      // of every endpoint whose actor would only start them go to the pool
      // together, in one event for the claim.
      const byWebhook = new Map<string, ClaimedDelivery[]>();
      for (const row of rows) {
        const id = webhookActorId(row.webhookId);
        const list = byWebhook.get(id);
        if (list) list.push(row);
        else byWebhook.set(id, [row]);
      }
      const starting: ClaimedDelivery[] = [];
      for (const [id, list] of byWebhook) {
        const webhook = system.get(id) as AnyActorRef | undefined;
        if (!webhook) {
          enqueue.spawnChild("webhook", {
            id,
            systemId: id,
            input: {
              webhookId: list[0].webhookId,
              threshold: context.settings.threshold,
              coolDownMs: context.settings.coolDownMs ?? null,
              coolDownMaxMs: context.settings.coolDownMaxMs,
            },
          });
        } else if (claimOnlyStartsRows(webhook.getSnapshot(), list)) {
          for (const row of list) starting.push(row);
          continue;
        }
        const claimed: WebhookEvent = { type: "CLAIMED", rows: list };
        enqueue.sendTo(id, claimed);
      }
      if (starting.length > 0) enqueue.sendTo(POOL, { type: "DELIVER", rows: starting } satisfies PoolEvent);
      const newlyClaimed = [...byWebhook.keys()].filter((id) => !context.claimedWebhooks.has(id));
      enqueue.assign({
        inFlight: context.inFlight + rows.length,
        moreDue: context.moreDue || rows.length >= context.claimLimit,
        ...(newlyClaimed.length > 0 && { claimedWebhooks: new Set([...context.claimedWebhooks, ...newlyClaimed]) }),
      });
      if (rows.length > 0) enqueue.emit({ type: "claimed", count: rows.length });
    }),
    collectOutcomes: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== "DELIVERIES.FINISHED") return;
      // Each endpoint's actor hears its attempts in the order they finished,
      // except that a run of plain successes reaches it as its last one: a
      // success only resets the failure count (a second reset changes
      // nothing) and is ignored while the breaker is open or half-open
      // unless it is the probe, so the run and its last success leave the
      // actor in the same state. Under load that is one event per endpoint
      // per report instead of one per delivery.
      // And a run that cannot change the actor is not sent at all: a closed
      // breaker with no failures counted has nothing to reset (unless this
      // report told it a failure first). Under load, when most reports hold
      // a few outcomes, that was one event per delivery.
      const lastSuccess = new Map<string, DeliveryOutcome>();
      const told = new Set<string>();
      const tell = (outcome: DeliveryOutcome) => {
        const webhook = system.get(webhookActorId(outcome.webhookId));
        const finished: WebhookEvent = { type: "FINISHED", outcome };
        if (webhook) enqueue.sendTo(webhook, finished);
      };
      for (const outcome of event.outcomes) {
        if (!outcome.attempted) continue;
        if (plainSuccess(outcome)) {
          lastSuccess.set(outcome.webhookId, outcome);
          continue;
        }
        const run = lastSuccess.get(outcome.webhookId);
        if (run) {
          lastSuccess.delete(outcome.webhookId);
          tell(run);
        }
        tell(outcome);
        told.add(outcome.webhookId);
      }
      for (const run of lastSuccess.values()) {
        const webhook = system.get(webhookActorId(run.webhookId)) as AnyActorRef | undefined;
        if (told.has(run.webhookId) || (webhook && successResets(webhook.getSnapshot()))) tell(run);
      }
      const toWriter: WriterEvent = { type: "OUTCOMES", outcomes: event.outcomes };
      enqueue.sendTo(WRITER, toWriter);
      enqueue.assign({ inFlight: context.inFlight - event.outcomes.length });
      enqueue.emit({ type: "finished", outcomes: event.outcomes });
    }),
    // A delivery actor that threw is a bug; its claim stays until the
    // crash-safety window ends, and the dispatcher carries on.
    dropCrashedDeliveries: assign({
      inFlight: ({ context, event }) =>
        context.inFlight - (event.type === "DELIVERIES.CRASHED" ? event.deliveryIds.length : 0),
    }),
    abandonInFlight: enqueueActions(({ enqueue }) => enqueue.sendTo("deliveries", { type: "ABANDON" })),
    // Claims given back unsent (past the grace period, or held by a paused
    // endpoint's actor) are the writer's to record as released.
    collectReleased: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "DELIVERIES.RELEASED" && event.type !== "WEBHOOK.HELD") return;
      const toWriter: WriterEvent = { type: "RELEASED", released: event.released };
      enqueue.sendTo(WRITER, toWriter);
      enqueue.assign({
        inFlight: event.type === "DELIVERIES.RELEASED" ? 0 : context.inFlight - event.released.length,
      });
    }),
    forwardWritten: enqueueActions(({ event, enqueue, system }) => {
      if (event.type !== "WRITTEN") return;
      for (const report of event.webhooks) {
        const ref = system.get(webhookActorId(report.webhookId));
        const recorded: WebhookEvent = { type: "RECORDED", report };
        if (ref) enqueue.sendTo(ref, recorded);
      }
      const { webhooks, outcomes, released, exhausted } = event;
      enqueue.emit({ type: "recorded", webhooks, outcomes, released, exhausted });
    }),
    retireIdleWebhooks: enqueueActions(({ context, enqueue, self }) => {
      const idle = Object.keys(self.getSnapshot().children)
        .filter((id) => id.startsWith(WEBHOOK_ACTOR_PREFIX) && !context.claimedWebhooks.has(id));
      for (const id of idle) enqueue.stopChild(id);
      enqueue.assign({ claimedWebhooks: new Set() });
      if (idle.length > 0) {
        enqueue.emit({ type: "retired", webhookIds: idle.map((id) => id.slice(WEBHOOK_ACTOR_PREFIX.length)) });
      }
    }),
    forwardReenable: enqueueActions(({ event, enqueue, system }) => {
      if (event.type !== "WEBHOOK.REENABLED") return;
      const ref = system.get(webhookActorId(event.webhookId));
      if (ref) enqueue.sendTo(ref, { type: "REENABLED" });
    }),
  },
}).createMachine({
  id: "dispatcher",
  context: ({ input }) => ({
    settings: input,
    inFlight: 0,
    moreDue: true,
    claimLimit: 0,
    claimedWebhooks: new Set(),
  }),
  type: "parallel",
  invoke: {
    id: POOL,
    systemId: POOL,
    src: "deliveries",
    input: ({ context }) => ({ schedule: context.settings.schedule, policy: context.settings.policy }),
  },
  on: {
    "DELIVERIES.FINISHED": { actions: "collectOutcomes" },
    "WEBHOOK.HELD": { actions: "collectReleased" },
    "DELIVERIES.CRASHED": { actions: "dropCrashedDeliveries" },
    "WEBHOOK.REENABLED": { actions: "forwardReenable" },
  },
  states: {
    intake: {
      initial: "idle",
      states: {
        idle: {
          always: { guard: "moreDueAndFreeSlots", target: "waitingForWrites" },
          on: {
            WAKE: { target: "idle", reenter: true, actions: "markMoreDue" },
            STOP: "draining",
          },
          after: {
            // When every slot is busy the timer only notes that rows may be
            // due; the claim happens as soon as a slot frees.
            pollInterval: { target: "idle", reenter: true, actions: "markMoreDue" },
          },
        },
        // The rows a claim reads must already count our own failures: the
        // writer says when every failure collected so far is written.
        waitingForWrites: {
          entry: "askForClaim",
          on: {
            "FAILURES.WRITTEN": "claiming",
            WAKE: { actions: "markMoreDue" },
            STOP: "draining",
          },
        },
        claiming: {
          entry: "startClaim",
          initial: "active",
          states: {
            active: { on: { STOP: "stopRequested" } },
            stopRequested: {},
          },
          on: { WAKE: { actions: "markMoreDue" } },
          invoke: {
            id: "claim",
            src: "claim",
            // startClaim, the entry action, has just set the limit.
            input: ({ context }) => ({ limit: context.claimLimit }),
            onDone: [
              {
                guard: "stopWasRequested",
                target: "draining",
                actions: { type: "startDeliveries", params: ({ event }) => event.output },
              },
              { target: "idle", actions: { type: "startDeliveries", params: ({ event }) => event.output } },
            ],
            onError: [
              {
                guard: "stopWasRequested",
                target: "draining",
                actions: { type: "reportClaimFailed", params: ({ event }) => ({ error: event.error }) },
              },
              {
                target: "retryingClaim",
                actions: { type: "reportClaimFailed", params: ({ event }) => ({ error: event.error }) },
              },
            ],
          },
        },
        // The database refused or dropped the claim: the rows may still be
        // due, and a WAKE in the meantime (a re-subscribed LISTEN after a
        // reconnect) must not be lost, so the claim is tried again after a pause.
        retryingClaim: {
          on: {
            WAKE: { actions: "markMoreDue" },
            STOP: "draining",
          },
          after: { claimRetry: { target: "idle", actions: "markMoreDue" } },
        },
        draining: {
          always: { guard: "nothingInFlight", target: "stopped" },
          after: { shutdownGrace: "abandoning" },
        },
        // Past the grace period: the pool stops what is still sending and
        // reports those claims, which the writer gives back as released.
        abandoning: {
          entry: "abandonInFlight",
          on: { "DELIVERIES.RELEASED": { target: "stopped", actions: "collectReleased" } },
        },
        // Nothing more will reach the writer: it finishes once all is written.
        stopped: { type: "final", entry: "closeWriter" },
      },
    },
    writer: {
      initial: "open",
      states: {
        open: {
          invoke: {
            id: WRITER,
            systemId: WRITER,
            src: "resultWriter",
            input: ({ context }) => ({ writeRetryMs: context.settings.writeRetryMs }),
            onDone: "closed",
          },
          on: {
            WRITTEN: { actions: "forwardWritten" },
            "WRITE.FAILED": { actions: { type: "reportWriteFailed", params: ({ event }) => ({ error: event.error }) } },
          },
        },
        closed: { type: "final" },
      },
    },
    webhooks: {
      initial: "watching",
      states: {
        watching: {
          after: { webhookIdle: { target: "watching", reenter: true, actions: "retireIdleWebhooks" } },
          on: { STOP: "closed" },
        },
        closed: { type: "final" },
      },
    },
  },
});
