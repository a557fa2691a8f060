// One actor per claimed delivery: pending → claimed (signing) → sending →
// delivered | failed | exhausted. The actor's output is the outcome the
// dispatcher records. Signing and sending are effects supplied through
// provide() as actions: `sign` on entering claimed answers with SIGNED or
// SIGN.FAILED, `send` on entering sending answers with SENT. Actions rather
// than invoked promise actors, because an invoked actor per step doubled what
// each delivery cost the process (XState creates, starts and stops a child
// for every invoke).
import { assign, setup } from "xstate";
import { afterFailure } from "./retry-schedule.ts";

export type ClaimedDelivery = {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  /** The stored payload as JSON text: it is the body, byte for byte. */
  payload: string;
  attemptCount: number;
  /** null when the webhook row is gone. */
  url: string | null;
  webhookEnabled: boolean;
  consecutiveFailures: number;
  /** The webhook row's updated_at in microseconds: orders reports about it. */
  webhookVersion: number;
};

export type SignedRequest = { url: string; headers: Record<string, string>; body: string };

export type SendResult =
  | { kind: "response"; statusCode: number; responseBody: string; durationMs: number }
  | { kind: "error"; error: string; durationMs: number };

/** Where an attempt leaves the row; a delivery actor never leaves it `pending`. */
export type FinishedStatus = "delivered" | "failed" | "exhausted";

export type DeliveryOutcome = {
  deliveryId: string;
  webhookId: string;
  /** The attempt count the row had when claimed: the write is conditional on it. */
  attemptsBefore: number;
  status: FinishedStatus;
  /** false when the webhook was disabled or missing and nothing was sent. */
  attempted: boolean;
  retryDelaySecs: number | null;
  statusCode: number | null;
  error: string | null;
  durationMs: number | null;
  responseBody: string | null;
};

export type DeliveryInput = { delivery: ClaimedDelivery; schedule: readonly number[] };

export type DeliveryEvent =
  | { type: "SIGNED"; request: SignedRequest }
  | { type: "SIGN.FAILED"; error: string }
  | { type: "SENT"; result: SendResult };

type Context = DeliveryInput & { request: SignedRequest | null; outcome: DeliveryOutcome | null };

const unsent = (delivery: ClaimedDelivery): DeliveryOutcome => ({
  deliveryId: delivery.id,
  webhookId: delivery.webhookId,
  attemptsBefore: delivery.attemptCount,
  status: "exhausted",
  attempted: false,
  retryDelaySecs: null,
  statusCode: null,
  error: "webhook disabled",
  durationMs: null,
  responseBody: null,
});

/** What one attempt's result means for the row: delivered, failed (retry later) or exhausted. */
export function judged({ delivery, schedule }: DeliveryInput, result: SendResult): DeliveryOutcome {
  const base = {
    deliveryId: delivery.id,
    webhookId: delivery.webhookId,
    attemptsBefore: delivery.attemptCount,
    attempted: true,
    durationMs: result.durationMs,
    statusCode: result.kind === "response" ? result.statusCode : null,
    responseBody: result.kind === "response" ? result.responseBody : null,
  };
  if (isSuccess(result)) return { ...base, status: "delivered", retryDelaySecs: null, error: null };
  const next = afterFailure(delivery.attemptCount, schedule);
  const error = result.kind === "error" ? result.error : `HTTP ${result.statusCode}`;
  return next.status === "failed"
    ? { ...base, status: "failed", retryDelaySecs: next.retryDelaySecs, error }
    : { ...base, status: "exhausted", retryDelaySecs: null, error };
}

const isSuccess = (result: SendResult) =>
  result.kind === "response" && result.statusCode >= 200 && result.statusCode < 300;

const signFailure = (error: string): SendResult => ({ kind: "error", error, durationMs: 0 });

export const deliveryMachine = setup({
  types: {
    context: {} as Context,
    input: {} as DeliveryInput,
    output: {} as DeliveryOutcome,
    events: {} as DeliveryEvent,
  },
  actions: {
    // The effects. Each answers the actor with an event; the defaults say
    // they were not provided.
    sign: ({ self }, _delivery: ClaimedDelivery) => self.send({ type: "SIGN.FAILED", error: "sign is not provided" }),
    send: ({ self }, _request: SignedRequest) =>
      self.send({ type: "SENT", result: { kind: "error", error: "send is not provided", durationMs: 0 } }),
    recordUnsent: assign({ outcome: ({ context }) => unsent(context.delivery) }),
    recordResult: assign({ outcome: ({ context }, result: SendResult) => judged(context, result) }),
    keepRequest: assign({ request: (_, request: SignedRequest) => request }),
  },
  guards: {
    webhookUnavailable: ({ context }) => context.delivery.url === null || !context.delivery.webhookEnabled,
    succeeded: (_, result: SendResult) => isSuccess(result),
    lastAttempt: ({ context }) => afterFailure(context.delivery.attemptCount, context.schedule).status === "exhausted",
  },
}).createMachine({
  id: "delivery",
  context: ({ input }) => ({ ...input, request: null, outcome: null }),
  initial: "pending",
  states: {
    pending: {
      always: [
        { guard: "webhookUnavailable", target: "exhausted", actions: "recordUnsent" },
        { target: "claimed" },
      ],
    },
    claimed: {
      entry: { type: "sign", params: ({ context }) => context.delivery },
      on: {
        SIGNED: { target: "sending", actions: { type: "keepRequest", params: ({ event }) => event.request } },
        "SIGN.FAILED": [
          {
            guard: "lastAttempt",
            target: "exhausted",
            actions: { type: "recordResult", params: ({ event }) => signFailure(event.error) },
          },
          { target: "failed", actions: { type: "recordResult", params: ({ event }) => signFailure(event.error) } },
        ],
      },
    },
    sending: {
      entry: { type: "send", params: ({ context }) => context.request! },
      on: {
        SENT: [
          {
            guard: { type: "succeeded", params: ({ event }) => event.result },
            target: "delivered",
            actions: { type: "recordResult", params: ({ event }) => event.result },
          },
          {
            guard: "lastAttempt",
            target: "exhausted",
            actions: { type: "recordResult", params: ({ event }) => event.result },
          },
          { target: "failed", actions: { type: "recordResult", params: ({ event }) => event.result } },
        ],
      },
    },
    delivered: { type: "final" },
    failed: { type: "final" },
    exhausted: { type: "final" },
  },
  output: ({ context }) => context.outcome!,
});
