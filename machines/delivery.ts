// One actor per claimed delivery: pending → claimed (signing) → sending →
// delivered | failed | exhausted. The actor's output is the outcome the
// dispatcher records. Signing and sending are effects supplied through
// provide() as actions: `sign` on entering claimed answers with SIGNED or
// SIGN.FAILED, `send` on entering sending answers with SENT. Actions rather
// than invoked promise actors, because an invoked actor per step doubled what
// each delivery cost the process (XState creates, starts and stops a child
// for every invoke).
import { assign, setup } from "xstate";
import { type AfterFailure, afterFailure } from "./retry-schedule.ts";

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
  /** The one delivery a half-open breaker lets through: its outcome closes or re-opens the breaker. */
  probe: boolean;
};

export type SignedRequest = { url: string; headers: Record<string, string>; body: string };

export type SendResult =
  | {
    kind: "response";
    statusCode: number;
    responseBody: string;
    durationMs: number;
    /** Seconds the receiver's Retry-After header asked for (a date already turned into seconds). */
    retryAfter?: number;
  }
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
  /** Seconds the endpoint is paused for: a 429 or 503 with Retry-After (capped by the policy). */
  pauseSecs?: number | null;
  /** A 410 Gone under disable-on-gone: the webhook is disabled with this write. */
  gone?: boolean;
  /** The half-open breaker's probe: its outcome closes or re-opens the breaker. */
  probe?: boolean;
};

/** How one endpoint's failures are judged; the dispatcher's settings carry it. */
export type DeliveryPolicy = {
  /** Each retry delay × a uniform factor in [1 − jitter, 1 + jitter]. */
  jitter: number;
  /** The randomness behind the jitter, a number in [0, 1): provided, so tests fix it. */
  random: () => number;
  /** The longest pause a Retry-After may ask; 0 ignores the header. */
  retryAfterMaxSecs: number;
  /** 410 Gone exhausts the delivery and disables the webhook. */
  disableOnGone: boolean;
  /** With a breaker cool-down a failed probe never exhausts its row: it waits for the next probe. */
  probesWait: boolean;
};

/** dwctl's judging: exact schedule, no Retry-After, 410 an ordinary failure. */
export const DWCTL_POLICY: DeliveryPolicy = {
  jitter: 0,
  random: () => 0.5,
  retryAfterMaxSecs: 0,
  disableOnGone: false,
  probesWait: false,
};

export type DeliveryInput = { delivery: ClaimedDelivery; schedule: readonly number[]; policy?: DeliveryPolicy };

export type DeliveryEvent =
  | { type: "SIGNED"; request: SignedRequest }
  | { type: "SIGN.FAILED"; error: string }
  | { type: "SENT"; result: SendResult };

type Context = DeliveryInput & { request: SignedRequest | null; outcome: DeliveryOutcome | null };

/** The outcome of a delivery whose webhook is disabled or gone: exhausted, nothing sent. */
export const unsent = (delivery: Pick<ClaimedDelivery, "id" | "webhookId" | "attemptCount">): DeliveryOutcome => ({
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
export function judged(
  { delivery, schedule, policy = DWCTL_POLICY }: DeliveryInput,
  result: SendResult,
): DeliveryOutcome {
  const base = {
    deliveryId: delivery.id,
    webhookId: delivery.webhookId,
    attemptsBefore: delivery.attemptCount,
    attempted: true,
    durationMs: result.durationMs,
    statusCode: result.kind === "response" ? result.statusCode : null,
    responseBody: result.kind === "response" ? result.responseBody : null,
    ...(delivery.probe && { probe: true }),
  };
  if (isSuccess(result)) return { ...base, status: "delivered", retryDelaySecs: null, error: null };
  if (isGone(result, policy)) {
    return { ...base, status: "exhausted", retryDelaySecs: null, error: "HTTP 410: endpoint gone", gone: true };
  }
  const error = result.kind === "error" ? result.error : `HTTP ${result.statusCode}`;
  const pauseSecs = pauseAsked(result, policy);
  const pause = pauseSecs === null ? {} : { pauseSecs };
  const next = afterAttemptFailed({ delivery, schedule, policy }, result);
  if (next.status === "exhausted") return { ...base, status: "exhausted", retryDelaySecs: null, error, ...pause };
  const delay = Math.max(jittered(next.retryDelaySecs, policy), pauseSecs ?? 0);
  return { ...base, status: "failed", retryDelaySecs: delay, error, ...pause };
}

/**
 * Where a failed attempt leaves the row, and the schedule's delay before
 * jitter and pauses: what the machine's guard asks before the action
 * records the whole outcome.
 */
function afterAttemptFailed(
  { delivery, schedule, policy = DWCTL_POLICY }: DeliveryInput,
  result: SendResult,
): AfterFailure {
  if (isGone(result, policy)) return { status: "exhausted" };
  // A probe that waits is due at once: the breaker is open again, so the row waits for the next probe anyway.
  if (delivery.probe && policy.probesWait) return { status: "failed", retryDelaySecs: 0 };
  return afterFailure(delivery.attemptCount, schedule);
}

/** A 410 Gone under disable-on-gone. */
const isGone = (result: SendResult, policy: DeliveryPolicy) =>
  result.kind === "response" && result.statusCode === 410 && policy.disableOnGone;

/** The schedule's delay × a uniform factor in [1 − j, 1 + j], in whole seconds. */
function jittered(delaySecs: number, { jitter, random }: DeliveryPolicy): number {
  if (jitter === 0 || delaySecs === 0) return delaySecs;
  return Math.round(delaySecs * (1 - jitter + 2 * jitter * random()));
}

/** A 429 or 503 with Retry-After pauses the endpoint, no longer than the policy's cap. */
function pauseAsked(result: SendResult, policy: DeliveryPolicy): number | null {
  if (result.kind !== "response" || result.retryAfter === undefined || policy.retryAfterMaxSecs === 0) return null;
  if (result.statusCode !== 429 && result.statusCode !== 503) return null;
  return Math.min(Math.max(0, Math.ceil(result.retryAfter)), policy.retryAfterMaxSecs);
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
    exhausts: ({ context }, result: SendResult) => afterAttemptFailed(context, result).status === "exhausted",
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
            guard: { type: "exhausts", params: ({ event }) => signFailure(event.error) },
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
            guard: { type: "exhausts", params: ({ event }) => event.result },
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
