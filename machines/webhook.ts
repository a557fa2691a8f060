// One actor per endpoint: the circuit breaker. `closed` counts consecutive
// failures and opens at the threshold; a success or a re-enable resets it.
// Several replicas share one counter in the database, so claims and recorded
// results bring a SYNC with what the database says, and the actor follows
// it: the database is the source of truth, and what the claimed row says is
// what decides whether a delivery is sent. Each SYNC carries the row's
// version (its updated_at); a report older than one already seen is stale
// and is ignored.
import { assign, setup } from "xstate";

export type WebhookInput = { webhookId: string; threshold: number; consecutiveFailures?: number };

export type WebhookEvent =
  | { type: "SUCCEEDED" }
  | { type: "FAILED" }
  | { type: "REENABLED" }
  | { type: "SYNC"; consecutiveFailures: number; enabled: boolean; version: number };

type Context = { webhookId: string; threshold: number; consecutiveFailures: number; version: number };

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
    enabledInDatabase: ({ event }) => event.type === "SYNC" && event.enabled,
  },
  actions: {
    countFailure: assign({ consecutiveFailures: ({ context }) => context.consecutiveFailures + 1 }),
    resetFailures: assign({ consecutiveFailures: 0 }),
    adoptDatabaseState: assign(({ context, event }) =>
      event.type === "SYNC" ? { consecutiveFailures: event.consecutiveFailures, version: event.version } : context
    ),
  },
}).createMachine({
  id: "webhook",
  context: ({ input }) => ({
    webhookId: input.webhookId,
    threshold: input.threshold,
    consecutiveFailures: input.consecutiveFailures ?? 0,
    version: 0,
  }),
  initial: "closed",
  states: {
    closed: {
      on: {
        SUCCEEDED: { actions: "resetFailures" },
        FAILED: [
          { guard: "reachesThreshold", target: "open", actions: "countFailure" },
          { actions: "countFailure" },
        ],
        REENABLED: { actions: "resetFailures" },
        SYNC: [
          { guard: "stale" },
          { guard: "disabledInDatabase", target: "open", actions: "adoptDatabaseState" },
          { actions: "adoptDatabaseState" },
        ],
      },
    },
    open: {
      // Results of sends that were already in flight when the breaker
      // tripped change nothing here: only a re-enable closes it.
      on: {
        REENABLED: { target: "closed", actions: "resetFailures" },
        SYNC: [
          { guard: "stale" },
          { guard: "enabledInDatabase", target: "closed", actions: "adoptDatabaseState" },
          { actions: "adoptDatabaseState" },
        ],
      },
    },
  },
});
