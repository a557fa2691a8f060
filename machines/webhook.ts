// One actor per endpoint: its delivery policy. The dispatcher hands it each
// claimed batch of the endpoint's rows and it starts them (or holds them
// back while the endpoint is paused), except where all it would do is start
// them (claimOnlyStartsRows: the dispatcher starts those itself); attempt
// outcomes and what the database says after each write come back to it.
// Two regions:
// - breaker: closed → open (threshold of consecutive failures, or 410 Gone)
//   → half_open once the cool-down is over (its one probe is claimed) →
//   closed on the probe's success, open again with the cool-down doubled on
//   its failure. Without a cool-down, open lasts until a re-enable (dwctl).
// - pace: flowing, or paused until the time a Retry-After asked for.
// Postgres is the shared record: which rows are claimed, and which one is the
// probe, is decided atomically in the claim, and the actor follows what the
// claim and each write return. Its timers are delayed transitions, so they
// run on the actor system's clock, and on expiry they wake the dispatcher.
import { assign, setup } from "xstate";
import type { ClaimedDelivery, DeliveryOutcome } from "./delivery.ts";

/** What the database says about an endpoint after a result write (its UPDATE … RETURNING). */
export type EndpointReport = {
  webhookId: string;
  /** This write disabled the webhook (threshold reached, or 410 Gone). */
  tripped: boolean;
  breaker: Breaker;
  enabled: boolean;
  consecutiveFailures: number;
  /** Until an open breaker lets its probe through; null: open until re-enabled. */
  reopenInMs: number | null;
  /** How long the endpoint stays paused (Retry-After); 0: not paused. */
  pausedForMs: number;
};

export type Breaker = "closed" | "open" | "half_open";

export type WebhookInput = {
  webhookId: string;
  threshold: number;
  /** The first cool-down of a tripped breaker; null keeps it open until re-enabled (dwctl). */
  coolDownMs?: number | null;
  coolDownMaxMs?: number;
};

export type WebhookEvent =
  /** Rows of this endpoint the claim took: start them, or hold them back. */
  | { type: "CLAIMED"; rows: ClaimedDelivery[] }
  /** An attempt of this endpoint finished. */
  | { type: "FINISHED"; outcome: DeliveryOutcome }
  | { type: "RECORDED"; report: EndpointReport }
  | { type: "REENABLED" };

type Context = {
  webhookId: string;
  threshold: number;
  consecutiveFailures: number;
  /** The cool-down of the current opening; null: no probe, open until re-enabled. */
  coolDownMs: number | null;
  firstCoolDownMs: number | null;
  coolDownMaxMs: number;
  /** How long this opening still lasts (the database's word, or the cool-down). */
  reopenInMs: number;
  pausedForMs: number;
};

const outcomeOf = (event: WebhookEvent) => (event.type === "FINISHED" ? event.outcome : undefined);
const failed = (event: WebhookEvent) => {
  const outcome = outcomeOf(event);
  return outcome !== undefined && outcome.attempted && outcome.status !== "delivered";
};
const reportOf = (event: WebhookEvent) => (event.type === "RECORDED" ? event.report : undefined);

/**
 * Whether CLAIMED would do nothing but start `rows`: the breaker is closed,
 * the pace flowing, and none of them is a probe. The dispatcher then hands
 * such rows to the delivery pool itself, in one event for the whole claim,
 * instead of one event to each endpoint's actor and one from each to the
 * pool (test/machine-webhook.test.ts checks this against the machine).
 */
export const claimOnlyStartsRows = (
  snapshot: { status: string; value: unknown },
  rows: readonly ClaimedDelivery[],
) => {
  // The value read directly: snapshot.matches() parses its argument on every call, once per endpoint per claim.
  const value = snapshot.value as { breaker: Breaker; pace: "flowing" | "paused" };
  return snapshot.status === "active" && value.breaker === "closed" && value.pace === "flowing" &&
    !rows.some((row) => row.probe);
};

/**
 * Whether a plain success (delivered, not the probe, no pause asked) would
 * change the actor: only a closed breaker counting failures resets. The
 * dispatcher sends an endpoint's run of plain successes only where it does
 * (test/machine-webhook.test.ts checks this against the machine).
 */
export const successResets = (snapshot: { status: string; value: unknown; context: { consecutiveFailures: number } }) =>
  snapshot.status === "active" && snapshot.context.consecutiveFailures > 0 &&
  (snapshot.value as { breaker: Breaker }).breaker === "closed";

export const webhookMachine = setup({
  types: {
    context: {} as Context,
    input: {} as WebhookInput,
    events: {} as WebhookEvent,
  },
  actions: {
    // Effects the dispatcher provides: start rows (hand them to the delivery
    // pool), hold rows (give their claims back, due after `delayMs`), wake
    // the dispatcher (a probe or the end of a pause is due now).
    startRows: (_, _rows: ClaimedDelivery[]) => {},
    holdRows: (_, _held: { rows: ClaimedDelivery[]; delayMs: number }) => {},
    wakeDispatcher: () => {},
    countFailure: assign({ consecutiveFailures: ({ context }) => context.consecutiveFailures + 1 }),
    resetFailures: assign({ consecutiveFailures: 0 }),
    openByThreshold: assign({
      coolDownMs: ({ context }) => context.firstCoolDownMs,
      reopenInMs: ({ context }) => context.firstCoolDownMs ?? 0,
    }),
    openForGood: assign({ coolDownMs: null, reopenInMs: 0 }),
    doubleCoolDown: assign(({ context }) => {
      const next = context.coolDownMs === null
        ? context.firstCoolDownMs
        : Math.min(2 * context.coolDownMs, context.coolDownMaxMs);
      return { coolDownMs: next, reopenInMs: next ?? 0 };
    }),
    closeBreaker: assign({ coolDownMs: null, reopenInMs: 0 }),
    adoptReport: assign(({ context, event }) => {
      const report = reportOf(event);
      if (!report) return {};
      return {
        consecutiveFailures: report.consecutiveFailures,
        reopenInMs: report.reopenInMs ?? 0,
        coolDownMs: report.breaker === "closed" || report.reopenInMs === null
          ? null
          : context.coolDownMs ?? context.firstCoolDownMs ?? report.reopenInMs,
      };
    }),
    notePause: assign({
      pausedForMs: ({ context, event }) => {
        const asked = event.type === "FINISHED"
          ? (event.outcome.pauseSecs ?? 0) * 1000
          : event.type === "RECORDED"
          ? event.report.pausedForMs
          : 0;
        return Math.max(asked, 0) || context.pausedForMs;
      },
    }),
  },
  guards: {
    gone: ({ event }) => outcomeOf(event)?.gone === true,
    failure: ({ event }) => failed(event),
    failureAtThreshold: ({ context, event }) => failed(event) && context.consecutiveFailures + 1 >= context.threshold,
    probeSucceeded: ({ event }) => outcomeOf(event)?.probe === true && outcomeOf(event)?.status === "delivered",
    probeFailed: ({ event }) => outcomeOf(event)?.probe === true && failed(event),
    coolsDown: ({ context }) => context.coolDownMs !== null,
    probeClaimed: ({ event }) => event.type === "CLAIMED" && event.rows.some((row) => row.probe),
    /** A row claimed enabled and not as a probe: the database's breaker is closed. */
    claimedClosed: ({ event }) =>
      event.type === "CLAIMED" && event.rows.some((row) => !row.probe && row.webhookEnabled),
    reportsOpen: ({ event }) => reportOf(event)?.breaker === "open",
    reportsHalfOpen: ({ event }) => reportOf(event)?.breaker === "half_open",
    reportsClosed: ({ event }) => reportOf(event)?.breaker === "closed",
    asksPause: ({ event }) => (outcomeOf(event)?.pauseSecs ?? 0) > 0 || (reportOf(event)?.pausedForMs ?? 0) > 0,
  },
  delays: {
    coolDown: ({ context }) => context.reopenInMs,
    pause: ({ context }) => context.pausedForMs,
  },
}).createMachine({
  id: "webhook",
  context: ({ input }) => ({
    webhookId: input.webhookId,
    threshold: input.threshold,
    consecutiveFailures: 0,
    coolDownMs: null,
    firstCoolDownMs: input.coolDownMs ?? null,
    coolDownMaxMs: input.coolDownMaxMs ?? 3_600_000,
    reopenInMs: 0,
    pausedForMs: 0,
  }),
  type: "parallel",
  states: {
    breaker: {
      initial: "closed",
      on: {
        REENABLED: { target: ".closed", actions: ["resetFailures", "closeBreaker"] },
        RECORDED: [
          { guard: "reportsOpen", target: ".open", reenter: true, actions: "adoptReport" },
          { guard: "reportsHalfOpen", target: ".half_open", actions: "adoptReport" },
          { guard: "reportsClosed", target: ".closed", actions: "adoptReport" },
        ],
      },
      states: {
        closed: {
          on: {
            FINISHED: [
              { guard: "gone", target: "open", actions: ["countFailure", "openForGood"] },
              { guard: "failureAtThreshold", target: "open", actions: ["countFailure", "openByThreshold"] },
              { guard: "failure", actions: "countFailure" },
              { actions: "resetFailures" },
            ],
            CLAIMED: { guard: "probeClaimed", target: "half_open" },
          },
        },
        open: {
          // Results of sends already in flight when it opened change nothing.
          after: { coolDown: { guard: "coolsDown", target: "half_open" } },
          on: {
            CLAIMED: [
              { guard: "probeClaimed", target: "half_open" },
              { guard: "claimedClosed", target: "closed", actions: ["resetFailures", "closeBreaker"] },
            ],
          },
        },
        half_open: {
          // The cool-down is over: claim the probe now rather than at the next poll.
          entry: "wakeDispatcher",
          on: {
            FINISHED: [
              { guard: "probeSucceeded", target: "closed", actions: ["resetFailures", "closeBreaker"] },
              { guard: "gone", target: "open", actions: ["countFailure", "openForGood"] },
              { guard: "probeFailed", target: "open", actions: ["countFailure", "doubleCoolDown"] },
            ],
            CLAIMED: { guard: "claimedClosed", target: "closed", actions: ["resetFailures", "closeBreaker"] },
          },
        },
      },
    },
    pace: {
      initial: "flowing",
      states: {
        flowing: {
          on: {
            CLAIMED: { actions: { type: "startRows", params: ({ event }) => event.rows } },
            FINISHED: { guard: "asksPause", target: "paused", actions: "notePause" },
            RECORDED: { guard: "asksPause", target: "paused", actions: "notePause" },
          },
        },
        paused: {
          // Rows claimed before the pause was written wait until it ends.
          after: { pause: { target: "flowing", actions: "wakeDispatcher" } },
          on: {
            CLAIMED: {
              actions: {
                type: "holdRows",
                params: ({ context, event }) => ({ rows: event.rows, delayMs: context.pausedForMs }),
              },
            },
            FINISHED: { guard: "asksPause", target: "paused", reenter: true, actions: "notePause" },
            RECORDED: { guard: "asksPause", target: "paused", reenter: true, actions: "notePause" },
          },
        },
      },
    },
  },
});
