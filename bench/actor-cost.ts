// What the actor system alone costs per delivery: the real dispatcher,
// delivery pool, delivery and webhook machines, with every effect instant and
// in memory (claims hand out made-up rows, signing and sending answer on the
// next microtask, result writes succeed at once). No Postgres, no HTTP: the
// CPU per delivery this prints is XState and our machines, nothing else.
// `bun bench/actor-cost.ts` / `deno run -A bench/actor-cost.ts`;
// BENCH_DELIVERIES (200,000), BENCH_MAX_CONCURRENT_SENDS and
// BENCH_CLAIM_BATCH_SIZE (250/250), BENCH_WEBHOOKS (50), BENCH_SEND_SPREAD_MS
// (each send answers after a random delay up to this; 0: on the next microtask).
import process from "node:process";
import { createActor, fromPromise } from "xstate";
import type { ClaimedDelivery, SendResult } from "../machines/delivery.ts";
import { deliveryPool } from "../machines/delivery-pool.ts";
import { dispatcherMachine, dispatcherResultWriter, type Recorded } from "../machines/dispatcher.ts";
import type { ResultBatch } from "../machines/result-writer.ts";
import { withEffects } from "../src/send/delivery-effects.ts";
import { settingsFrom } from "../src/start/dispatcher-actor.ts";
import { loadConfig } from "../src/start/config.ts";

const env = process.env;
const total = Number(env.BENCH_DELIVERIES ?? 200_000);
const webhooks = Number(env.BENCH_WEBHOOKS ?? 50);
const spreadMs = Number(env.BENCH_SEND_SPREAD_MS ?? 0);
const config = loadConfig({
  STATEHOOK_MAX_CONCURRENT_SENDS: env.BENCH_MAX_CONCURRENT_SENDS ?? "250",
  STATEHOOK_CLAIM_BATCH_SIZE: env.BENCH_CLAIM_BATCH_SIZE ?? "250",
  STATEHOOK_RETRY_SCHEDULE: "0,3600",
  STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "1000000",
});

export async function actorCost(count: number) {
  let handedOut = 0;
  let written = 0;
  const row = (i: number): ClaimedDelivery => ({
    id: `d${i}`,
    webhookId: `w${i % webhooks}`,
    eventId: `e${i}`,
    eventType: "bench.actor",
    payload: '{"type":"bench.actor"}',
    attemptCount: 0,
    url: "http://127.0.0.1/never",
    webhookEnabled: true,
    consecutiveFailures: 0,
    probe: false,
  });
  const ok: SendResult = { kind: "response", statusCode: 200, responseBody: "ok", durationMs: 1 };
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const machine = dispatcherMachine.provide({
    actors: {
      deliveries: deliveryPool(withEffects({
        sign: (r) => Promise.resolve({ url: r.url!, headers: {}, body: r.payload }),
        // Answers spread over a few milliseconds, as real ones arrive one task at a time.
        send: () =>
          spreadMs > 0 ? new Promise((r) => setTimeout(() => r(ok), Math.random() * spreadMs)) : Promise.resolve(ok),
      })),
      claim: fromPromise(async ({ input }) => {
        const n = Math.min(input.limit, count - handedOut);
        return Array.from({ length: n }, () => row(handedOut++));
      }),
      resultWriter: dispatcherResultWriter.provide({
        actors: {
          recordOutcomes: fromPromise<Recorded, ResultBatch>(async ({ input }) => {
            written += input.outcomes.length;
            if (written >= count) done();
            return { webhooks: [], exhausted: 0 };
          }),
        },
      }),
    },
  });
  const actor = createActor(machine, { input: { ...settingsFrom(config), pollIntervalMs: 60_000 } });
  const cpu = process.cpuUsage();
  const started = performance.now();
  actor.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  actor.stop();
  return {
    deliveries: count,
    seconds: Number(seconds.toFixed(2)),
    per_second: Math.round(count / seconds),
    cpu_us_per_delivery: Number(((used.user + used.system) / count).toFixed(1)),
  };
}

if (import.meta.main) {
  await actorCost(Math.min(total, 20_000)); // warm-up
  console.log(JSON.stringify(await actorCost(total)));
  process.exit(0);
}
