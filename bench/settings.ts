// The benchmark's settings, read from the environment (listed at the head of
// bench/run.ts), and the environment every scenario starts the service with.
import process from "node:process";

const env = process.env;
export const MAX_SENDS = env.BENCH_MAX_CONCURRENT_SENDS ?? "250";
export const CLAIM_BATCH = env.BENCH_CLAIM_BATCH_SIZE ?? "250";
export const SOAK = Number(env.BENCH_SOAK ?? 200_000);
export const PROFILE = env.BENCH_PROFILE;
export const SKIP = new Set((env.BENCH_SKIP ?? "").split(",").filter(Boolean));
export const TOKEN = "benchmark-token-0123456789abcdef";
export const THROUGHPUT_N = Number(env.BENCH_DELIVERIES ?? 20_000);
export const THROUGHPUT_ROUNDS = Number(env.BENCH_ROUNDS ?? 5);
// Open-loop publishing rates (events/s) and how long each runs (s); "quarter"
// is a quarter of the service's saturation throughput measured in the same
// run (its all-healthy throughput row).
export const LATENCY_RATES = (env.BENCH_RATES ?? "100:10,quarter:10").split(",").map((r) => {
  const [rate, seconds] = r.split(":");
  return { rate: rate === "quarter" ? "quarter" as const : Number(rate), seconds: Number(seconds) };
});
export const WEBHOOKS = 50;

export function serviceEnv(databaseUrl: string, extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: databaseUrl,
    STATEHOOK_API_TOKEN: TOKEN,
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_MAX_CONCURRENT_SENDS: MAX_SENDS,
    // The send slots, not the per-endpoint cap (default 20), bound the bench's few endpoints.
    STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK: "100000",
    STATEHOOK_CLAIM_BATCH_SIZE: CLAIM_BATCH,
    // One attempt per benchmark run: a failure's retry is an hour away.
    STATEHOOK_RETRY_SCHEDULE: "0,3600",
    // Failing endpoints keep being tried, so every row costs one attempt.
    STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "1000000",
    STATEHOOK_POLL_INTERVAL_MS: "1000",
    STATEHOOK_TIMEOUT_SECS: "30",
    ...extra,
  };
}
