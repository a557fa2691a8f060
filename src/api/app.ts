// The HTTP surface, on Hono: health, readiness and metrics, the management
// API under /admin/api (src/api/), and its OpenAPI document and reference.
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_PUBLISH_BYTES,
  DEFAULT_MAX_WEBHOOKS_PER_USER,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from "../start/config.ts";
import { OpenAPIHono } from "@hono/zod-openapi";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import pkg from "../../package.json" with { type: "json" };
import { mountDocs } from "./docs.ts";
import { mountDashboard } from "../dashboard/index.ts";
import { errorBody, handleError, validationHook } from "./errors.ts";
import { mountApi } from "./index.ts";
import { requestLog } from "./request-log.ts";
import type { Sql } from "../db/client.ts";
import type { Log } from "../start/log.ts";
import type { Metrics } from "../start/metrics.ts";
import type { Resolve } from "../send/target-guard.ts";
import type { LiveOptions } from "./live.ts";

export type AppDeps = {
  sql: Sql;
  metrics: Metrics;
  dispatcherRunning: () => boolean;
  /** The bearer token every /admin/api request must carry. */
  apiToken: string;
  /** Defaults to false: webhook URLs may not point at loopback or private networks. */
  allowPrivateTargets?: boolean;
  /** Defaults to 1 MiB. */
  maxBodyBytes?: number;
  /** DNS lookup for the SSRF check at create; tests pass a fake. */
  resolve?: Resolve;
  /** Request lines and unexpected errors go here; defaults to nowhere. */
  log?: Log;
  /** Wired to the dispatcher: a webhook was re-enabled through the API. */
  onWebhookReenabled?: (webhookId: string) => void;
  /** Wired to the dispatcher: deliveries became due (a retry). */
  onDeliveriesQueued?: () => void;
  /** Defaults to false: `scope: "platform"` webhooks (every user's events) cannot be created. */
  allowPlatformWebhooks?: boolean;
  /** Defaults to 100. */
  maxWebhooksPerUser?: number;
  /** Payload bytes × matching webhooks one publish may write. Defaults to 16 MiB. */
  maxPublishBytes?: number;
  /** How long a request body may take to arrive after its headers. Defaults to 10 s. */
  requestTimeoutMs?: number;
  /** The dispatcher's live feed, for GET /admin/api/v1/live (a 503 without one). */
  live?: LiveOptions;
};

export function createApp(deps: AppDeps): OpenAPIHono {
  const log: Log = deps.log ?? (() => {});
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.use(requestId(), requestLog(log), secureHeaders());
  // A method a path does not serve (PUT on a webhook, or FOO, or lowercase get
  // where the runtime lets them through) is a 405 naming the ones it does.
  app.use(methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json(
        errorBody("method_not_allowed", `${c.req.method} is not allowed here; use ${methods.join(", ")}`),
        405,
        { allow: methods.join(", ") },
      ),
  }));

  const documented = (path: string, operationId: string, summary: string, responses: Record<string, string>) =>
    app.openAPIRegistry.registerPath({
      method: "get",
      path,
      operationId,
      summary,
      tags: ["operations"],
      responses: Object.fromEntries(
        Object.entries(responses).map(([status, description]) => [status, { description }]),
      ),
    });
  documented("/healthz", "getHealth", "Liveness: the process answers", { 200: "Alive" });
  documented("/readyz", "getReadiness", "Readiness: the database answers and the dispatcher runs", {
    200: "Ready",
    503: "Not ready",
  });
  documented("/metrics", "getMetrics", "Prometheus metrics, text format", { 200: "Metrics" });
  documented("/docs", "getDocs", "This reference, as a page", { 200: "HTML" });
  documented("/openapi.json", "getOpenApiDocument", "This reference, as OpenAPI 3.1", { 200: "The document" });

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const database = await Promise.race([
      deps.sql`SELECT 1`.then(() => true, () => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, 2000, false))),
    ]).finally(() => clearTimeout(timer));
    const dispatcher = deps.dispatcherRunning();
    const ready = database && dispatcher;
    return c.json({ status: ready ? "ready" : "not_ready", database, dispatcher }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const [row] = await deps.sql<{ due: number }[]>`
      SELECT count(*)::int AS due FROM webhook_deliveries
      WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()`.catch(() => [{ due: -1 }]);
    if (row.due >= 0) deps.metrics.backlog.set(row.due);
    return c.body(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType });
  });

  mountApi(app, {
    sql: deps.sql,
    apiToken: deps.apiToken,
    maxBodyBytes: deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    requestTimeoutMs: deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    allowPrivateTargets: deps.allowPrivateTargets ?? false,
    allowPlatformWebhooks: deps.allowPlatformWebhooks ?? false,
    maxWebhooksPerUser: deps.maxWebhooksPerUser ?? DEFAULT_MAX_WEBHOOKS_PER_USER,
    maxPublishBytes: deps.maxPublishBytes ?? DEFAULT_MAX_PUBLISH_BYTES,
    resolve: deps.resolve,
    onWebhookReenabled: deps.onWebhookReenabled,
    onDeliveriesQueued: deps.onDeliveriesQueued,
    live: deps.live,
  });
  mountDocs(app, pkg.version);
  mountDashboard(app);

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) =>
    handleError(
      error,
      c,
      (bug) =>
        log("error", "unhandled error", { error: bug instanceof Error ? bug.stack ?? bug.message : String(bug) }),
    )
  );
  return app;
}
