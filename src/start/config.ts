// Configuration from the environment (DESIGN §7). Every variable is validated
// here, once, so a bad value stops start-up with one line naming it instead of
// surfacing later as a confusing runtime failure.
import { TOKEN68, TOKEN68_CHARS } from "./api-token.ts";

export type InspectTarget = { kind: "sky" } | { kind: "websocket"; url: string };

/** OpenTelemetry traces: OTLP/HTTP to `endpoint`/v1/traces, exported every `scheduleDelayMs`. */
export type OtelTarget = { endpoint: string; serviceName: string; scheduleDelayMs: number };

// Defaults that createApp uses too, for callers that build the app without a Config.
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_WEBHOOKS_PER_USER = 100;
export const DEFAULT_MAX_PUBLISH_BYTES = 16 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export type Config = {
  databaseUrl: string | undefined;
  dataDir: string;
  host: string;
  port: number;
  apiToken: string | undefined;
  maxBodyBytes: number;
  /** Days the attempt log keeps a row; 0 keeps them forever. */
  attemptRetentionDays: number;
  retrySchedule: number[];
  timeoutMs: number;
  circuitBreakerThreshold: number;
  claimBatchSize: number;
  maxConcurrentSends: number;
  /** Requests open to one host at a time; more wait their turn within the timeout. */
  maxConnectionsPerHost: number;
  claimTimeoutSecs: number;
  pollIntervalMs: number;
  shutdownGraceMs: number;
  allowPrivateTargets: boolean;
  inspect: InspectTarget | undefined;
  /** Webhooks one user may have; creating one more is a 409. */
  maxWebhooksPerUser: number;
  /** Payload bytes × matching webhooks one publish may write; a 413 beyond. */
  maxPublishBytes: number;
  /** Whether the API may create `scope: "platform"` webhooks (every user's events). */
  allowPlatformWebhooks: boolean;
  /** How long an API request's body may take to arrive once its headers have; a 408 after. */
  requestTimeoutMs: number;
  /** Shortest gap between two live-view snapshots to one viewer. */
  liveIntervalMs: number;
  otel: OtelTarget | undefined;
  /** The per-endpoint delivery policy (README: "The per-endpoint policy"). */
  policy: PolicyConfig;
};

export type PolicyConfig = {
  /** Each retry delay × a uniform factor in [1 − j, 1 + j]. */
  retryJitter: number;
  /** null: a tripped breaker stays open until re-enabled (dwctl). */
  breakerCooldownSecs: number | null;
  breakerCooldownMaxSecs: number;
  retryAfterMaxSecs: number;
  disableOnGone: boolean;
  maxInFlightPerWebhook: number;
};

export class ConfigError extends Error {
  constructor(readonly variable: string, accepts: string, got: string) {
    super(`${variable}: expected ${accepts}, got ${JSON.stringify(got)}`);
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  throw new ConfigError(name, "true or false", raw);
}

function fraction(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw.trim());
  if (!/^\d*\.?\d+$/.test(raw.trim()) || value > 1) throw new ConfigError(name, "a number from 0 to 1", raw);
  return value;
}

function optionalInteger(env: Env, name: string, min: number, max: number): number | null {
  const raw = env[name];
  return raw === undefined || raw.trim() === "" ? null : integer(env, name, 0, min, max);
}

function retrySchedule(env: Env): number[] {
  const name = "STATEHOOK_RETRY_SCHEDULE";
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return [0, 5, 300, 1800, 7200, 28800, 86400];
  const parts = raw.split(",").map((part) => part.trim());
  const delays = parts.map(Number);
  const valid = parts.every((part) => /^\d+$/.test(part)) && delays.every((d) => d <= 31_536_000);
  if (!valid || delays.length === 0) {
    throw new ConfigError(name, "a comma-separated list of whole seconds, e.g. 0,5,300", raw);
  }
  return delays;
}

function inspectTarget(env: Env): InspectTarget | undefined {
  const raw = env.STATEHOOK_INSPECT?.trim();
  if (!raw) return undefined;
  if (raw === "sky") return { kind: "sky" };
  if (/^wss?:\/\/[^\s]+$/.test(raw)) return { kind: "websocket", url: raw };
  throw new ConfigError("STATEHOOK_INSPECT", "sky or a ws:// URL", raw);
}

function databaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) {
    throw new ConfigError("DATABASE_URL", "a postgres:// or postgresql:// URL", "<redacted>");
  }
  return raw;
}

function host(env: Env): string {
  const raw = env.STATEHOOK_HOST?.trim();
  if (!raw) return "127.0.0.1";
  if (!/^[A-Za-z0-9.:\-\[\]]+$/.test(raw)) throw new ConfigError("STATEHOOK_HOST", "a host name or IP address", raw);
  return raw;
}

/** The standard OTEL_* variables statehook reads; traces are off unless the endpoint is set. */
function otelTarget(env: Env): OtelTarget | undefined {
  const raw = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!raw) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    // The value may carry credentials: named, not echoed.
    throw new ConfigError("OTEL_EXPORTER_OTLP_ENDPOINT", "an http:// or https:// URL (OTLP/HTTP)", "<redacted>");
  }
  return {
    endpoint: raw,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || "statehook",
    scheduleDelayMs: integer(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, 1, 3_600_000),
  };
}

export function loadConfig(env: Env): Config {
  const dbUrl = databaseUrl(env);
  const token = env.STATEHOOK_API_TOKEN?.trim();
  if (token !== undefined && token !== "" && (token.length < 16 || !TOKEN68.test(token))) {
    throw new ConfigError("STATEHOOK_API_TOKEN", `at least 16 characters of ${TOKEN68_CHARS}`, "<redacted>");
  }
  return {
    databaseUrl: dbUrl,
    dataDir: env.STATEHOOK_DATA_DIR?.trim() || "./.statehook",
    host: host(env),
    port: integer(env, "STATEHOOK_PORT", 8080, 0, 65535),
    apiToken: token || undefined,
    maxBodyBytes: integer(env, "STATEHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
    attemptRetentionDays: integer(env, "STATEHOOK_ATTEMPT_RETENTION_DAYS", 30, 0, 36_500),
    retrySchedule: retrySchedule(env),
    timeoutMs: integer(env, "STATEHOOK_TIMEOUT_SECS", 30, 1, 3600) * 1000,
    circuitBreakerThreshold: integer(env, "STATEHOOK_CIRCUIT_BREAKER_THRESHOLD", 10, 1, 1_000_000),
    claimBatchSize: integer(env, "STATEHOOK_CLAIM_BATCH_SIZE", 50, 1, 10_000),
    maxConcurrentSends: integer(env, "STATEHOOK_MAX_CONCURRENT_SENDS", 20, 1, 100_000),
    maxConnectionsPerHost: integer(env, "STATEHOOK_MAX_CONNECTIONS_PER_HOST", 64, 1, 100_000),
    claimTimeoutSecs: integer(env, "STATEHOOK_CLAIM_TIMEOUT_SECS", 300, 1, 86_400),
    pollIntervalMs: integer(env, "STATEHOOK_POLL_INTERVAL_MS", 1000, 10, 3_600_000),
    shutdownGraceMs: integer(env, "STATEHOOK_SHUTDOWN_GRACE_MS", 10_000, 0, 3_600_000),
    allowPrivateTargets: boolean(env, "STATEHOOK_ALLOW_PRIVATE_TARGETS", dbUrl === undefined),
    inspect: inspectTarget(env),
    maxWebhooksPerUser: integer(env, "STATEHOOK_MAX_WEBHOOKS_PER_USER", DEFAULT_MAX_WEBHOOKS_PER_USER, 1, 1_000_000),
    maxPublishBytes: integer(env, "STATEHOOK_MAX_PUBLISH_BYTES", DEFAULT_MAX_PUBLISH_BYTES, 1024, 2 ** 40),
    allowPlatformWebhooks: boolean(env, "STATEHOOK_ALLOW_PLATFORM_WEBHOOKS", false),
    requestTimeoutMs: integer(env, "STATEHOOK_REQUEST_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT_MS, 100, 3_600_000),
    liveIntervalMs: integer(env, "STATEHOOK_LIVE_INTERVAL_MS", 500, 50, 60_000),
    otel: otelTarget(env),
    policy: {
      retryJitter: fraction(env, "STATEHOOK_RETRY_JITTER", 0.2),
      breakerCooldownSecs: optionalInteger(env, "STATEHOOK_BREAKER_COOLDOWN_SECS", 1, 86_400),
      breakerCooldownMaxSecs: integer(env, "STATEHOOK_BREAKER_COOLDOWN_MAX_SECS", 3600, 1, 604_800),
      retryAfterMaxSecs: integer(env, "STATEHOOK_RETRY_AFTER_MAX_SECS", 3600, 0, 604_800),
      disableOnGone: boolean(env, "STATEHOOK_DISABLE_ON_GONE", true),
      maxInFlightPerWebhook: integer(env, "STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", 20, 1, 100_000),
    },
  };
}
