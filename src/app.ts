// The HTTP surface, on Hono: health, readiness and metrics. The management
// API mounts here too.
import { Hono } from "hono";
import type { Sql } from "./db/client.ts";
import type { Metrics } from "./metrics.ts";

export type AppDeps = {
  sql: Sql;
  metrics: Metrics;
  dispatcherRunning: () => boolean;
};

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    const database = await Promise.race([
      deps.sql`SELECT 1`.then(() => true, () => false),
      new Promise<boolean>((resolve) => setTimeout(resolve, 2000, false)),
    ]);
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

  app.notFound((c) => c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((error, c) => {
    console.error(error);
    return c.json({ error: { code: "internal", message: "internal error" } }, 500);
  });
  return app;
}
