// The API served over real HTTP on 127.0.0.1 with the real dispatcher behind
// it, in the test process, for the tests that follow a delivery from the API
// to a receiver: what src/main.ts wires, but with the settings a test needs.
import { type AppDeps, createApp } from "../../src/api/app.ts";
import type { Sql } from "../../src/db/client.ts";
import { loadConfig } from "../../src/start/config.ts";
import { type Dispatcher, startDispatcher } from "../../src/start/dispatcher-actor.ts";
import { createMetrics } from "../../src/start/metrics.ts";
import { serve } from "../../src/start/runtime.ts";
import { TOKEN } from "./api-client.ts";

export type ServedApi = {
  dispatcher: Dispatcher;
  /** http://127.0.0.1:port, where the API answers (bearer TOKEN). */
  base: string;
  /** Stops the dispatcher, then the server. */
  stop(): Promise<void>;
};

/**
 * Starts the dispatcher over `sql` (private targets allowed, a 50 ms poll, a
 * 5 s send timeout, then `env`) and serves the API in front of it on port 0;
 * `deps` gives the app what the test wires to the dispatcher.
 */
export async function serveApiWithDispatcher(
  sql: Sql,
  env: Record<string, string>,
  deps: (dispatcher: Dispatcher) => Partial<AppDeps>,
): Promise<ServedApi> {
  const config = loadConfig({
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_POLL_INTERVAL_MS: "50",
    STATEHOOK_TIMEOUT_SECS: "5",
    ...env,
  });
  const metrics = createMetrics();
  const dispatcher = await startDispatcher({ sql, config, metrics });
  const app = createApp({
    sql,
    metrics,
    dispatcherRunning: dispatcher.running,
    apiToken: TOKEN,
    ...deps(dispatcher),
  });
  const server = serve(app.fetch, { hostname: "127.0.0.1", port: 0 });
  return {
    dispatcher,
    base: `http://127.0.0.1:${server.port}`,
    async stop() {
      await dispatcher.stop();
      await server.stop();
    },
  };
}
