// One JSON log line per request: method, route pattern (not the raw path, so
// ids and query strings stay out of logs), status, duration and the request
// id, which Hono's requestId middleware takes from X-Request-Id or makes up,
// and echoes back in the response.
//
//   app.use(requestId(), requestLog(log));
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Log } from "../start/log.ts";

export function requestLog(log: Log): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = routePath(c, -1);
    log("info", "request", {
      method: c.req.method,
      route: route && !route.endsWith("*") ? route : null,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      request_id: c.get("requestId" as never) ?? null,
    });
  };
}
