// What the live view shows, read from the running actor system: the
// dispatcher's and the result writer's states, live delivery actors by
// state, the webhook actors' breakers, per-endpoint send rates and the
// process's totals. It costs
// nothing while nobody watches: the system's inspection hook and the
// dispatcher's "finished" events are subscribed to only while a viewer is
// attached, and everything else is read from snapshots when a viewer asks.
import type { Actor, AnyActorRef, InspectionEvent } from "xstate";
import type { DeliveryOutcome } from "../../machines/delivery.ts";
import { DELIVERY_ACTOR_PREFIX } from "../../machines/delivery-pool.ts";
import { type dispatcherMachine, WEBHOOK_ACTOR_PREFIX, WRITER } from "../../machines/dispatcher.ts";
import { redact } from "./inspect.ts";
import type { Metrics } from "./metrics.ts";

export type LiveWebhook = {
  /** The breaker: closed, open or half_open. */
  state: string;
  paused: boolean;
  /** The actor's whole state value, for drawing it on the machine. */
  value: unknown;
  consecutive_failures: number;
  in_flight: number;
  sent_per_sec: number;
  last_status_code: number | null;
};

export type LiveSnapshot = {
  at: string;
  machines: {
    dispatcher: { state: unknown; in_flight: number };
    /** Its state (null once it has finished) and the results handed to it not yet written. */
    "result-writer": { state: unknown; unwritten: number };
    /** Live delivery actors by state. */
    delivery: Record<string, number>;
    /** Webhook actors by state. */
    webhook: Record<string, number>;
  };
  webhooks: Record<string, LiveWebhook>;
  /** Since the process started, as /metrics counts them: attempts delivered and failed, deliveries exhausted. */
  totals: { delivered: number; failed: number; exhausted: number };
};

/** One viewer's window on the feed. */
export type LiveWatch = {
  /** The state now; sent_per_sec is over the time since this viewer's previous snapshot. */
  snapshot(): Promise<LiveSnapshot>;
  stop(): void;
};

export type LiveFeed = {
  watch(): LiveWatch;
  /** Viewers attached now. */
  watching(): number;
};

/**
 * The active leaf states of a state value, each as a path: ["sending"], or
 * ["breaker.closed", "pace.flowing"] for a machine with parallel regions, so
 * each state of the drawn machine gets its own count.
 */
function stateNames(value: unknown): string[] {
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, inner]) => stateNames(inner).map((leaf) => `${key}.${leaf}`));
  }
  return [String(value)];
}

function countInto(counts: Record<string, number>, value: unknown): void {
  for (const name of stateNames(value)) counts[name] = (counts[name] ?? 0) + 1;
}

type Counted = { sent: number; lastStatusCode: number | null };

export function createLiveFeed(
  actor: Actor<typeof dispatcherMachine>,
  metrics: Metrics | undefined,
  now: () => number = Date.now,
): LiveFeed {
  let viewers = 0;
  let detach = () => {};
  // Shared by the viewers while any is attached.
  const deliveries = new Set<AnyActorRef>();
  const counted = new Map<string, Counted>();

  const attach = () => {
    // Delivery actors live in the pool, not in any snapshot's children: the
    // inspection hook announces each one as it is created. Actors already
    // running when the first viewer came are not seen (they finish within
    // the send timeout); the dispatcher's own in_flight count is exact.
    const inspection = actor.system.inspect((event: InspectionEvent) => {
      if (event.type !== "@xstate.actor") return;
      const ref = event.actorRef as AnyActorRef;
      if (ref.id.startsWith(DELIVERY_ACTOR_PREFIX)) deliveries.add(ref);
    });
    const finished = actor.on("finished", ({ outcomes }: { outcomes: DeliveryOutcome[] }) => {
      for (const outcome of outcomes) {
        if (!outcome.attempted) continue;
        const entry = counted.get(outcome.webhookId) ?? { sent: 0, lastStatusCode: null };
        entry.sent++;
        entry.lastStatusCode = outcome.statusCode;
        counted.set(outcome.webhookId, entry);
      }
    });
    detach = () => {
      inspection.unsubscribe();
      finished.unsubscribe();
      deliveries.clear();
      counted.clear();
    };
  };

  const totals = async (): Promise<LiveSnapshot["totals"]> => {
    if (!metrics) return { delivered: 0, failed: 0, exhausted: 0 };
    const outcomes = (await metrics.deliveries.get()).values;
    const of = (outcome: string) => outcomes.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    const exhausted = (await metrics.exhausted.get()).values[0]?.value ?? 0;
    return { delivered: of("success"), failed: of("failure"), exhausted };
  };

  const build = async (previous: Map<string, number>, elapsedMs: number): Promise<LiveSnapshot> => {
    const deliveryStates: Record<string, number> = {};
    const inFlightOf = new Map<string, number>();
    for (const ref of deliveries) {
      const snapshot = ref.getSnapshot();
      if (snapshot.status !== "active") {
        deliveries.delete(ref);
        continue;
      }
      countInto(deliveryStates, snapshot.value);
      const webhookId = snapshot.context?.delivery?.webhookId as string | undefined;
      if (webhookId) inFlightOf.set(webhookId, (inFlightOf.get(webhookId) ?? 0) + 1);
    }
    const webhookStates: Record<string, number> = {};
    const webhooks: Record<string, LiveWebhook> = {};
    for (const [systemId, ref] of Object.entries(actor.system.getAll())) {
      if (!systemId.startsWith(WEBHOOK_ACTOR_PREFIX)) continue;
      const snapshot = ref.getSnapshot();
      if (snapshot.status !== "active") continue;
      const webhookId = systemId.slice(WEBHOOK_ACTOR_PREFIX.length);
      countInto(webhookStates, snapshot.value);
      const sent = counted.get(webhookId);
      const since = sent ? sent.sent - (previous.get(webhookId) ?? 0) : 0;
      if (sent) previous.set(webhookId, sent.sent);
      // The endpoint's breaker (closed, open, half_open) and whether a Retry-After pauses it.
      const value = snapshot.value as { breaker?: string; pace?: string } | string;
      webhooks[webhookId] = {
        state: typeof value === "object" && value.breaker ? value.breaker : String(value),
        paused: typeof value === "object" && value.pace === "paused",
        value,
        consecutive_failures: snapshot.context?.consecutiveFailures ?? 0,
        in_flight: inFlightOf.get(webhookId) ?? 0,
        sent_per_sec: elapsedMs > 0 ? Math.round((since * 1000 / elapsedMs) * 10) / 10 : 0,
        last_status_code: sent?.lastStatusCode ?? null,
      };
    }
    const dispatcher = actor.getSnapshot();
    const writer = actor.system.get(WRITER)?.getSnapshot();
    const writerRuns = writer?.status === "active";
    // Built from ids, states and counts only; redacted all the same, as the
    // inspector's stream is, so nothing secret can ride along by accident.
    return redact({
      at: new Date(now()).toISOString(),
      machines: {
        dispatcher: { state: dispatcher.value, in_flight: dispatcher.context.inFlight },
        "result-writer": {
          state: writerRuns ? writer.value : null,
          unwritten: writerRuns ? writer.context.collected - writer.context.written : 0,
        },
        delivery: deliveryStates,
        webhook: webhookStates,
      },
      webhooks,
      totals: await totals(),
    });
  };

  return {
    watching: () => viewers,
    watch() {
      if (viewers++ === 0) attach();
      // This viewer's sent counts at its previous snapshot, for its rates.
      const previous = new Map([...counted].map(([id, c]) => [id, c.sent]));
      let last = now();
      let stopped = false;
      return {
        async snapshot() {
          const at = now();
          const snapshot = await build(previous, at - last);
          last = at;
          return snapshot;
        },
        stop() {
          if (stopped) return;
          stopped = true;
          if (--viewers === 0) detach();
        },
      };
    },
  };
}
