// One actor per endpoint: the circuit breaker. `closed` counts consecutive
// failures and opens at the threshold; a success or a re-enable resets it.
// Several replicas share one counter in the database, so every recorded
// result also brings a SYNC with what the database says, and the actor
// follows it: the database is the source of truth.
import { assign, setup } from "xstate";

export type WebhookInput = { webhookId: string; threshold: number; consecutiveFailures?: number };

export type WebhookEvent =
  | { type: "SUCCEEDED" }
  | { type: "FAILED" }
  | { type: "REENABLED" }
  | { type: "SYNC"; consecutiveFailures: number; enabled: boolean };

type Context = { webhookId: string; threshold: number; consecutiveFailures: number };

export const webhookMachine = setup({
  types: {
    context: {} as Context,
    input: {} as WebhookInput,
    events: {} as WebhookEvent,
  },
  guards: {
    reachesThreshold: ({ context }) => context.consecutiveFailures + 1 >= context.threshold,
    disabledInDatabase: ({ event }) => event.type === "SYNC" && !event.enabled,
    enabledInDatabase: ({ event }) => event.type === "SYNC" && event.enabled,
  },
  actions: {
    countFailure: assign({ consecutiveFailures: ({ context }) => context.consecutiveFailures + 1 }),
    resetFailures: assign({ consecutiveFailures: 0 }),
    adoptDatabaseCount: assign({
      consecutiveFailures: ({ context, event }) => (event.type === "SYNC" ? event.consecutiveFailures : context.consecutiveFailures),
    }),
  },
}).createMachine({
  id: "webhook",
  context: ({ input }) => ({
    webhookId: input.webhookId,
    threshold: input.threshold,
    consecutiveFailures: input.consecutiveFailures ?? 0,
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
          { guard: "disabledInDatabase", target: "open", actions: "adoptDatabaseCount" },
          { actions: "adoptDatabaseCount" },
        ],
      },
    },
    open: {
      // Results of sends that were already in flight when the breaker
      // tripped change nothing here: only a re-enable closes it.
      on: {
        REENABLED: { target: "closed", actions: "resetFailures" },
        SYNC: [
          { guard: "enabledInDatabase", target: "closed", actions: "adoptDatabaseCount" },
          { actions: "adoptDatabaseCount" },
        ],
      },
    },
  },
});
