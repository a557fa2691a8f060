// One actor per endpoint: the circuit breaker. `closed` counts consecutive
// failures and opens at the threshold; a success or a re-enable resets it.
// Several replicas share one counter in the database, so claims and recorded
// results bring a SYNC with what the database says, and the actor follows
// it: the database is the source of truth. Two things keep an old report
// from undoing newer knowledge:
// - each SYNC carries the row's version (its updated_at); a report older
//   than one already seen is stale and changes nothing;
// - the actor counts the outcomes it has seen that are not yet written
//   (`unrecorded`); while some are, the database is behind this actor and may
//   open the breaker but not close it.
import { assign, setup } from "xstate";

export type WebhookInput = { webhookId: string; threshold: number; consecutiveFailures?: number };

export type WebhookEvent =
  | { type: "SUCCEEDED" }
  | { type: "FAILED" }
  | { type: "REENABLED" }
  /** What the database says; `recorded` is how many of this actor's outcomes the report includes. */
  | { type: "SYNC"; consecutiveFailures: number; enabled: boolean; version: number; recorded: number }
  /** Outcomes written without changing the row (a healthy webhook's successes). */
  | { type: "RECORDED"; count: number };

type Context = {
  webhookId: string;
  threshold: number;
  consecutiveFailures: number;
  version: number;
  unrecorded: number;
};

const recordedBy = (event: WebhookEvent) =>
  event.type === "SYNC" ? event.recorded : event.type === "RECORDED" ? event.count : 0;

export const webhookMachine = setup({
  types: {
    context: {} as Context,
    input: {} as WebhookInput,
    events: {} as WebhookEvent,
  },
  guards: {
    reachesThreshold: ({ context }) => context.consecutiveFailures + 1 >= context.threshold,
    stale: ({ context, event }) => event.type === "SYNC" && event.version <= context.version,
    disabledInDatabase: ({ event }) => event.type === "SYNC" && !event.enabled,
    caughtUp: ({ context, event }) => context.unrecorded - recordedBy(event) <= 0,
    enabledAndCaughtUp: ({ context, event }) =>
      event.type === "SYNC" && event.enabled && context.unrecorded - recordedBy(event) <= 0,
  },
  actions: {
    countFailure: assign({
      consecutiveFailures: ({ context }) => context.consecutiveFailures + 1,
      unrecorded: ({ context }) => context.unrecorded + 1,
    }),
    countSuccess: assign({ consecutiveFailures: 0, unrecorded: ({ context }) => context.unrecorded + 1 }),
    countLateOutcome: assign({ unrecorded: ({ context }) => context.unrecorded + 1 }),
    resetFailures: assign({ consecutiveFailures: 0 }),
    forgetRecorded: assign({
      unrecorded: ({ context, event }) => Math.max(0, context.unrecorded - recordedBy(event)),
    }),
    adoptDatabaseState: assign(({ context, event }) =>
      event.type === "SYNC"
        ? {
          consecutiveFailures: event.consecutiveFailures,
          version: event.version,
          unrecorded: Math.max(0, context.unrecorded - event.recorded),
        }
        : context
    ),
    adoptVersion: assign(({ context, event }) =>
      event.type === "SYNC"
        ? { version: event.version, unrecorded: Math.max(0, context.unrecorded - event.recorded) }
        : context
    ),
  },
}).createMachine({
  id: "webhook",
  context: ({ input }) => ({
    webhookId: input.webhookId,
    threshold: input.threshold,
    consecutiveFailures: input.consecutiveFailures ?? 0,
    version: 0,
    unrecorded: 0,
  }),
  initial: "closed",
  states: {
    closed: {
      on: {
        SUCCEEDED: { actions: "countSuccess" },
        FAILED: [
          { guard: "reachesThreshold", target: "open", actions: "countFailure" },
          { actions: "countFailure" },
        ],
        REENABLED: { actions: "resetFailures" },
        RECORDED: { actions: "forgetRecorded" },
        SYNC: [
          { guard: "stale", actions: "forgetRecorded" },
          { guard: "disabledInDatabase", target: "open", actions: "adoptDatabaseState" },
          { guard: "caughtUp", actions: "adoptDatabaseState" },
          // The database has not seen all our outcomes yet: our count is newer.
          { actions: "adoptVersion" },
        ],
      },
    },
    open: {
      // Results of sends that were already in flight when the breaker
      // tripped open nothing more; they are counted only so that the report
      // that includes them is known when it comes.
      on: {
        SUCCEEDED: { actions: "countLateOutcome" },
        FAILED: { actions: "countLateOutcome" },
        REENABLED: { target: "closed", actions: "resetFailures" },
        RECORDED: { actions: "forgetRecorded" },
        SYNC: [
          { guard: "stale", actions: "forgetRecorded" },
          { guard: "enabledAndCaughtUp", target: "closed", actions: "adoptDatabaseState" },
          { guard: "disabledInDatabase", actions: "adoptDatabaseState" },
          // Enabled, but before our own failures were written: stay open.
          { actions: "adoptVersion" },
        ],
      },
    },
  },
});

type WebhookSnapshot = { value: unknown; context: { version: number; unrecorded: number } };

/**
 * Whether a delivery claimed with this row may be sent. The row is the
 * database's word at claim time. An open breaker wins while the database has
 * not yet seen all its outcomes, or when it already knows a version at least
 * as new as the row's; a newer row means the webhook was re-enabled since.
 */
export function acceptsDelivery(
  breaker: WebhookSnapshot | undefined,
  row: { webhookEnabled: boolean; webhookVersion: number },
): boolean {
  if (!row.webhookEnabled) return false;
  if (!breaker || breaker.value !== "open") return true;
  return breaker.context.unrecorded === 0 && row.webhookVersion > breaker.context.version;
}
