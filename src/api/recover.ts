// Recover (Svix's name for it): after an outage of the receiver, re-queue
// every failed and exhausted delivery of one webhook created in a window,
// each with a fresh schedule, due now, as the single-delivery retry does.
import { z } from "@hono/zod-openapi";
import { recoverDeliveries } from "../db/delivery-queries.ts";
import { apiError, errorResponse } from "./errors.ts";
import { adminRoute, type ApiDeps, createRouter, jsonBody, jsonResponse } from "./router.ts";
import { rfc3339, WebhookPathParams, windowInOrder } from "./schemas.ts";

const RecoverBody = z
  .object({
    since: rfc3339().openapi({ description: "Deliveries created at or after this" }),
    until: rfc3339().optional().openapi({ description: "…and before this; default: now" }),
  })
  .strict()
  .refine(windowInOrder, { message: "since must not be after until", path: ["until"] })
  .openapi("RecoverWindow");

const Recovered = z
  .object({ requeued: z.number().int().openapi({ description: "Deliveries queued again" }) })
  .openapi("Recovered");

const recover = adminRoute("deliveries", {
  method: "post",
  path: "/admin/api/v1/users/{user_id}/webhooks/{webhook_id}/recover",
  operationId: "recoverWebhookDeliveries",
  summary: "Re-queue the webhook's failed and exhausted deliveries created in a window, with a fresh schedule",
  request: {
    params: WebhookPathParams,
    body: jsonBody(RecoverBody),
  },
  responses: {
    202: jsonResponse(Recovered, "Queued again"),
    400: errorResponse("Invalid input: since missing or not RFC 3339, or after until"),
    404: errorResponse("No such webhook for this user"),
    409: errorResponse("The webhook is disabled"),
  },
});

export function recoverRoutes(deps: ApiDeps) {
  return createRouter().openapi(recover, async (c) => {
    const { user_id, webhook_id } = c.req.valid("param");
    const window = c.req.valid("json");
    const result = await recoverDeliveries(deps.sql, user_id, webhook_id, window);
    if (result.ok) {
      if (result.requeued > 0) deps.onDeliveriesQueued?.();
      return c.json({ requeued: result.requeued }, 202);
    }
    return result.reason === "not_found"
      ? apiError(c, 404, "not_found", `no webhook ${webhook_id} for this user`)
      : apiError(c, 409, "webhook_disabled", "the webhook is disabled; enable it with PATCH enabled: true first");
  });
}
