// Configuration: defaults, every variable's validation, and the one-line
// start-up error a bad value gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { loadConfig } from "../src/start/config.ts";
import { assertConfigRefused } from "./support/config-refusal.ts";

test("defaults follow the design", () => {
  const c = loadConfig({});
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.dataDir, "./.statehook");
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 8080);
  assert.equal(c.apiToken, undefined);
  assert.deepEqual(c.retrySchedule, [0, 5, 300, 1800, 7200, 28800, 86400]);
  assert.equal(c.timeoutMs, 30_000);
  assert.equal(c.circuitBreakerThreshold, 10);
  assert.equal(c.claimBatchSize, 50);
  assert.equal(c.maxConcurrentSends, 20);
  assert.equal(c.maxConnectionsPerHost, 64);
  assert.equal(c.claimTimeoutSecs, 300);
  assert.equal(c.pollIntervalMs, 1000);
  assert.equal(c.shutdownGraceMs, 10_000);
  assert.equal(c.allowPrivateTargets, true, "on by default with the embedded database");
  assert.equal(c.inspect, undefined);
});

test("private targets are off by default with an external database", () => {
  assert.equal(loadConfig({ DATABASE_URL: "postgres://u:p@db:5432/x" }).allowPrivateTargets, false);
  assert.equal(
    loadConfig({ DATABASE_URL: "postgres://u:p@db/x", STATEHOOK_ALLOW_PRIVATE_TARGETS: "yes" }).allowPrivateTargets,
    true,
  );
});

test("values are parsed", () => {
  const c = loadConfig({
    STATEHOOK_PORT: "9000",
    STATEHOOK_RETRY_SCHEDULE: "0, 5 ,300",
    STATEHOOK_TIMEOUT_SECS: "2",
    STATEHOOK_INSPECT: "ws://127.0.0.1:9999",
    STATEHOOK_API_TOKEN: "0123456789abcdef0123",
  });
  assert.equal(c.port, 9000);
  assert.deepEqual(c.retrySchedule, [0, 5, 300]);
  assert.equal(c.timeoutMs, 2000);
  assert.deepEqual(c.inspect, { kind: "websocket", url: "ws://127.0.0.1:9999" });
  assert.deepEqual(loadConfig({ STATEHOOK_INSPECT: "sky" }).inspect, { kind: "sky" });
});

const badValues: [string, string][] = [
  ["STATEHOOK_PORT", "eighty"],
  ["STATEHOOK_PORT", "70000"],
  ["STATEHOOK_PORT", "80.5"],
  ["STATEHOOK_RETRY_SCHEDULE", "0,five"],
  ["STATEHOOK_RETRY_SCHEDULE", "0,-5"],
  ["STATEHOOK_RETRY_SCHEDULE", ","],
  ["STATEHOOK_TIMEOUT_SECS", "0"],
  ["STATEHOOK_CIRCUIT_BREAKER_THRESHOLD", "0"],
  ["STATEHOOK_CLAIM_BATCH_SIZE", "-1"],
  ["STATEHOOK_MAX_CONCURRENT_SENDS", "lots"],
  ["STATEHOOK_MAX_CONNECTIONS_PER_HOST", "0"],
  ["STATEHOOK_CLAIM_TIMEOUT_SECS", "1e3x"],
  ["STATEHOOK_POLL_INTERVAL_MS", "1"],
  ["STATEHOOK_SHUTDOWN_GRACE_MS", "soon"],
  ["STATEHOOK_ALLOW_PRIVATE_TARGETS", "maybe"],
  ["STATEHOOK_INSPECT", "http://example.com"],
  ["STATEHOOK_HOST", "bad host"],
  ["DATABASE_URL", "mysql://x"],
  ["STATEHOOK_API_TOKEN", "short"],
];

for (const [name, value] of badValues) {
  test(`${name}=${JSON.stringify(value)} is refused with a message naming it`, () => {
    assertConfigRefused(
      name,
      value,
      (error) => assert.ok(error.message.startsWith(`${name}: expected `), error.message),
    );
  });
}

test("secrets are not echoed in config errors", () => {
  for (const [name, value] of [["DATABASE_URL", "mysql://user:hunter2@db"], ["STATEHOOK_API_TOKEN", "hunter2"]]) {
    try {
      loadConfig({ [name]: value });
      assert.fail("should have thrown");
    } catch (error) {
      assert.ok(!(error as Error).message.includes("hunter2"));
    }
  }
});

test("the service refuses to start on a bad variable with one line on stderr and a non-zero exit", async () => {
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
  const args = isBun ? ["src/main.ts"] : ["run", "-A", "src/main.ts"];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, DATABASE_URL: "", STATEHOOK_CLAIM_BATCH_SIZE: "many" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.equal(stderr, 'statehook: STATEHOOK_CLAIM_BATCH_SIZE: expected an integer from 1 to 10000, got "many"\n');
});

test("the per-endpoint policy: defaults, values, and a one-line error naming each variable", () => {
  assert.deepEqual(loadConfig({}).policy, {
    retryJitter: 0.2,
    breakerCooldownSecs: null,
    breakerCooldownMaxSecs: 3600,
    retryAfterMaxSecs: 3600,
    disableOnGone: true,
    maxInFlightPerWebhook: 20,
  });
  assert.deepEqual(
    loadConfig({
      STATEHOOK_RETRY_JITTER: "0",
      STATEHOOK_BREAKER_COOLDOWN_SECS: "30",
      STATEHOOK_BREAKER_COOLDOWN_MAX_SECS: "120",
      STATEHOOK_RETRY_AFTER_MAX_SECS: "60",
      STATEHOOK_DISABLE_ON_GONE: "false",
      STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK: "3",
    }).policy,
    {
      retryJitter: 0,
      breakerCooldownSecs: 30,
      breakerCooldownMaxSecs: 120,
      retryAfterMaxSecs: 60,
      disableOnGone: false,
      maxInFlightPerWebhook: 3,
    },
  );
  assert.equal(loadConfig({ STATEHOOK_RETRY_JITTER: ".5" }).policy.retryJitter, 0.5);
  for (
    const [name, value] of [
      ["STATEHOOK_RETRY_JITTER", "1.5"],
      ["STATEHOOK_RETRY_JITTER", "-0.1"],
      ["STATEHOOK_RETRY_JITTER", "lots"],
      ["STATEHOOK_BREAKER_COOLDOWN_SECS", "0"],
      ["STATEHOOK_BREAKER_COOLDOWN_MAX_SECS", "soon"],
      ["STATEHOOK_RETRY_AFTER_MAX_SECS", "-1"],
      ["STATEHOOK_DISABLE_ON_GONE", "maybe"],
      ["STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", "0"],
    ]
  ) {
    assertConfigRefused(name, value);
  }
});
