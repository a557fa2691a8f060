// Wires the pure dispatcher machine to the world: claims and result writes go
// to Postgres, delivery actors sign with the keyring and send over fetch, and
// NOTIFY on the deliveries channel wakes the dispatcher. Metrics and logs
// follow the events the machine emits.
import type { Log } from "./log.ts";
import { createActor, fromPromise, type InspectionEvent, type Observer } from "xstate";
import type { ClaimedDelivery, DeliveryPolicy, SignedRequest } from "../../machines/delivery.ts";
import { deliveryPool } from "../../machines/delivery-pool.ts";
import { dispatcherMachine, dispatcherResultWriter, type DispatcherSettings } from "../../machines/dispatcher.ts";
import type { ResultBatch } from "../../machines/result-writer.ts";
import type { Config } from "./config.ts";
import { claimDue } from "../db/claim.ts";
import { DELIVERY_CHANNEL } from "../db/migrations.ts";
import { recordOutcomes } from "../db/outcomes.ts";
import type { Sql } from "../db/client.ts";
import { withEffects } from "../send/delivery-effects.ts";
import { createKeyring } from "../send/keyring.ts";
import { createLiveFeed, type LiveFeed } from "./live-feed.ts";
import type { Metrics } from "./metrics.ts";
import { traced } from "./traced.ts";
import type { Traces } from "./traces.ts";
import { createSender, type Send } from "../send/sender.ts";
import { webhookHeaders } from "../send/signing.ts";

export type DispatcherDeps = {
  sql: Sql;
  config: Config;
  metrics?: Metrics;
  /** Defaults to fetch through createSender. */
  send?: Send;
  /** Unix time in milliseconds; the webhook-timestamp header comes from it. */
  now?: () => number;
  log?: Log;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** OpenTelemetry spans of claims, attempts and result batches; none when unset. */
  traces?: Traces;
};

export type Dispatcher = {
  actor: ReturnType<typeof createActor<typeof dispatcherMachine>>;
  wake(): void;
  reenabled(webhookId: string): void;
  running(): boolean;
  /** What the live view shows; costs nothing until someone watches. */
  live: LiveFeed;
  /** Stops claiming, drains within the grace period, records outcomes. */
  stop(): Promise<void>;
};

/** How long an endpoint goes unclaimed before its webhook actor and signing key are dropped. */
const WEBHOOK_IDLE_MS = 10 * 60_000;

/** How a delivery actor judges an attempt under `config` (the plain-loop benchmark judges the same way). */
export function deliveryPolicyFrom(config: Config): DeliveryPolicy {
  return {
    jitter: config.policy.retryJitter,
    random: Math.random,
    retryAfterMaxSecs: config.policy.retryAfterMaxSecs,
    disableOnGone: config.policy.disableOnGone,
    probesWait: config.policy.breakerCooldownSecs !== null,
  };
}

export function settingsFrom(config: Config): DispatcherSettings {
  return {
    batchSize: config.claimBatchSize,
    maxInFlight: config.maxConcurrentSends,
    pollIntervalMs: config.pollIntervalMs,
    shutdownGraceMs: config.shutdownGraceMs,
    writeRetryMs: 1000,
    webhookIdleMs: WEBHOOK_IDLE_MS,
    schedule: config.retrySchedule,
    threshold: config.circuitBreakerThreshold,
    policy: deliveryPolicyFrom(config),
    coolDownMs: config.policy.breakerCooldownSecs === null ? null : config.policy.breakerCooldownSecs * 1000,
    coolDownMaxMs: config.policy.breakerCooldownMaxSecs * 1000,
  };
}

export async function startDispatcher(deps: DispatcherDeps): Promise<Dispatcher> {
  const { sql, config, metrics } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => {});
  const keyring = createKeyring();
  const send = deps.send ?? createSender({
    timeoutMs: config.timeoutMs,
    allowPrivateTargets: config.allowPrivateTargets,
    maxPerHost: config.maxConnectionsPerHost,
  });

  const sign = async (row: ClaimedDelivery): Promise<SignedRequest> => {
    const keys = await keyring.keys(row.webhookId);
    const headers = await webhookHeaders(keys, row.eventId, Math.floor(now() / 1000), row.payload);
    return { url: row.url!, headers, body: row.payload };
  };
  // Sends still open when the dispatcher has finished were abandoned past the
  // grace period (their claims are released): they are aborted then.
  const stopping = new AbortController();
  const effects = traced(deps.traces, {
    send: (request: SignedRequest) => send(request, stopping.signal),
    claim: async (limit: number) => {
      const rows = await claimDue(sql, limit, config.claimTimeoutSecs, config.policy);
      return rows.map(({ secret, previousSecret, ...row }) => {
        if (secret !== null) keyring.remember(row.webhookId, secret, previousSecret);
        return row;
      });
    },
    record: (batch: ResultBatch) => recordOutcomes(sql, batch, config.circuitBreakerThreshold, config.policy),
  });
  const delivery = withEffects({ sign, send: effects.send });

  const machine = dispatcherMachine.provide({
    actors: {
      deliveries: deliveryPool(delivery),
      claim: fromPromise(({ input }) => effects.claim(input.limit)),
      resultWriter: dispatcherResultWriter.provide({
        actors: { recordOutcomes: fromPromise(({ input }) => effects.record(input)) },
      }),
    },
  });

  const actor = createActor(machine, { input: settingsFrom(config), inspect: deps.inspect });
  // The machine's count also drops for claims released at shutdown and for a
  // delivery actor that crashed, which no emitted event reports.
  metrics?.countInFlightWith(() => actor.getSnapshot().context.inFlight);
  actor.on("claimed", ({ count }) => metrics?.claimed.inc(count));
  actor.on("finished", ({ outcomes }) => {
    if (!metrics) return;
    // Counted per report, not per outcome: each labelled inc hashes its labels.
    let succeeded = 0;
    let failed = 0;
    for (const outcome of outcomes) {
      if (outcome.attempted) {
        if (outcome.status === "delivered") succeeded++;
        else failed++;
        if (outcome.durationMs !== null) metrics.attemptDuration.observe(outcome.durationMs / 1000);
      }
    }
    if (succeeded > 0) metrics.deliveries.inc({ outcome: "success" }, succeeded);
    if (failed > 0) metrics.deliveries.inc({ outcome: "failure" }, failed);
  });
  // Exhausted rows are counted as written: the actor's verdict is not the
  // row's while a cool-down keeps it failed, nor for a result dropped as stale.
  actor.on("recorded", ({ webhooks, outcomes, released, exhausted }) => {
    metrics?.writeBatch.observe(outcomes + released);
    if (exhausted > 0) metrics?.exhausted.inc(exhausted);
    for (const w of webhooks.filter((w) => w.tripped)) {
      metrics?.breakerTrips.inc();
      log("warn", "circuit breaker tripped: webhook disabled", {
        webhook_id: w.webhookId,
        consecutive_failures: w.consecutiveFailures,
      });
    }
  });
  actor.on("retired", ({ webhookIds }) => webhookIds.forEach(keyring.forget));
  actor.on("claimFailed", ({ error }) => log("error", "claim failed", { error: String(error) }));
  actor.on("writeFailed", ({ error }) => log("error", "result write failed; will retry", { error: String(error) }));

  const done = new Promise<void>((resolve, reject) => {
    actor.subscribe({ complete: () => resolve(), error: reject });
  });
  actor.start();

  // postgres.js re-subscribes after a reconnect and calls onlisten again:
  // wake then too, since rows may have arrived while the connection was down.
  const wake = () => actor.send({ type: "WAKE" });
  const listener = await sql.listen(DELIVERY_CHANNEL, wake, wake);

  return {
    actor,
    live: createLiveFeed(actor, metrics, now),
    wake,
    reenabled: (webhookId) => actor.send({ type: "WEBHOOK.REENABLED", webhookId }),
    running: () => {
      // Draining, abandoning and stopped all come after STOP, while the writer may still be busy.
      const snapshot = actor.getSnapshot();
      return snapshot.status === "active" &&
        (snapshot.matches({ intake: "idle" }) || snapshot.matches({ intake: "waitingForWrites" }) ||
          snapshot.matches({ intake: { claiming: "active" } }));
    },
    async stop() {
      actor.send({ type: "STOP" });
      await done;
      stopping.abort();
      await listener.unlisten().catch(() => {});
    },
  };
}
