// One actor per claimed delivery: pending → claimed (signing) → sending →
// delivered | failed | exhausted. The actor's output is the outcome the
// dispatcher records; signing and sending come in through provide().
import { assign, fromPromise, setup } from "xstate";
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

export type DeliveryStatus = "delivered" | "failed" | "exhausted";

export type DeliveryOutcome = {
  deliveryId: string;
  webhookId: string;
  /** The attempt count the row had when claimed: the write is conditional on it. */
  attemptsBefore: number;
  status: DeliveryStatus;
  /** false when the webhook was disabled or missing and nothing was sent. */
  attempted: boolean;
  retryDelaySecs: number | null;
  statusCode: number | null;
  error: string | null;
  durationMs: number | null;
  responseBody: string | null;
};

export type DeliveryInput = { delivery: ClaimedDelivery; schedule: readonly number[] };

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

function judged(context: Context, result: SendResult): DeliveryOutcome {
  const { delivery, schedule } = context;
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

const thrown = (error: unknown): SendResult => ({
  kind: "error",
  error: error instanceof Error ? error.message : String(error),
  durationMs: 0,
});

export const deliveryMachine = setup({
  types: {
    context: {} as Context,
    input: {} as DeliveryInput,
    output: {} as DeliveryOutcome,
  },
  actors: {
    sign: fromPromise<SignedRequest, ClaimedDelivery>(() => Promise.reject(new Error("sign is not provided"))),
    send: fromPromise<SendResult, SignedRequest>(() => Promise.reject(new Error("send is not provided"))),
  },
  guards: {
    webhookUnavailable: ({ context }) => context.delivery.url === null || !context.delivery.webhookEnabled,
    succeeded: ({ context }, result: SendResult) => judged(context, result).status === "delivered",
    lastAttempt: ({ context }) => afterFailure(context.delivery.attemptCount, context.schedule).status === "exhausted",
  },
  actions: {
    recordUnsent: assign({ outcome: ({ context }) => unsent(context.delivery) }),
    recordResult: assign({ outcome: ({ context }, result: SendResult) => judged(context, result) }),
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
      invoke: {
        id: "sign",
        src: "sign",
        input: ({ context }) => context.delivery,
        onDone: { target: "sending", actions: assign({ request: ({ event }) => event.output }) },
        onError: [
          {
            guard: "lastAttempt",
            target: "exhausted",
            actions: { type: "recordResult", params: ({ event }) => thrown(event.error) },
          },
          { target: "failed", actions: { type: "recordResult", params: ({ event }) => thrown(event.error) } },
        ],
      },
    },
    sending: {
      invoke: {
        id: "send",
        src: "send",
        input: ({ context }) => context.request!,
        onDone: [
          {
            guard: { type: "succeeded", params: ({ event }) => event.output },
            target: "delivered",
            actions: { type: "recordResult", params: ({ event }) => event.output },
          },
          {
            guard: "lastAttempt",
            target: "exhausted",
            actions: { type: "recordResult", params: ({ event }) => event.output },
          },
          { target: "failed", actions: { type: "recordResult", params: ({ event }) => event.output } },
        ],
        onError: [
          {
            guard: "lastAttempt",
            target: "exhausted",
            actions: { type: "recordResult", params: ({ event }) => thrown(event.error) },
          },
          { target: "failed", actions: { type: "recordResult", params: ({ event }) => thrown(event.error) } },
        ],
      },
    },
    delivered: { type: "final" },
    failed: { type: "final" },
    exhausted: { type: "final" },
  },
  output: ({ context }) => context.outcome!,
});
