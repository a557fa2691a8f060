// The management API under /admin/api/v1: bearer auth, a deadline on the
// body's arrival and a body limit in front, then one router per resource.
// Each router carries its OpenAPI definitions, which the root app merges
// into /openapi.json.
//
//   mountApi(app, { sql, apiToken, maxBodyBytes: 1 << 20, requestTimeoutMs: 10_000, ... });
import type { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { requireToken } from "./auth.ts";
import { bodyDeadline } from "./body-deadline.ts";
import { deliveryRoutes } from "./deliveries.ts";
import { apiError } from "./errors.ts";
import { eventRoutes } from "./events.ts";
import { listingRoutes } from "./listings.ts";
import { type LiveOptions, mountLive } from "./live.ts";
import { recoverRoutes } from "./recover.ts";
import type { ApiDeps } from "./router.ts";
import { webhookRoutes } from "./webhooks.ts";

export type { ApiDeps } from "./router.ts";

export type MountOptions = ApiDeps & {
  apiToken: string;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  live?: LiveOptions;
};

export function mountApi(app: OpenAPIHono, options: MountOptions): void {
  const { apiToken, maxBodyBytes, requestTimeoutMs, live, ...deps } = options;
  app.use(
    "/admin/api/*",
    requireToken(apiToken),
    // Before bodyLimit, which reads a chunked body itself and would wait on it without end.
    bodyDeadline(requestTimeoutMs),
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => apiError(c, 413, "payload_too_large", `request body is larger than ${maxBodyBytes} bytes`),
    }),
  );
  app.route("/", webhookRoutes(deps));
  app.route("/", eventRoutes(deps));
  app.route("/", deliveryRoutes(deps));
  app.route("/", listingRoutes(deps));
  app.route("/", recoverRoutes(deps));
  mountLive(app, live);
}
