// Delivery inspection and replay: a webhook's deliveries (newest first, keyset
// pagination), one delivery with its attempt history, and retry, which
// re-queues a failed or exhausted delivery now with a fresh schedule.
// /deliveries/{id} reaches any user's delivery, as in dwctl; the same two
// routes under /users/{user_id}/ answer 404 for another user's, for callers
// that act on behalf of one user.
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { DeliveryStatus } from "../db/delivery-row.ts";
import {
  type AttemptRow,
  type DeliverySummary,
  getDeliveryDetail,
  listDeliveries,
  retryDelivery,
} from "../db/delivery-queries.ts";
import { encodeCursor } from "../db/keyset.ts";
import { getWebhook } from "../db/webhooks.ts";
import { standardHeaders } from "../send/signing.ts";
import { apiError, errorResponse } from "./errors.ts";
import { adminRoute, type ApiDeps, createRouter, jsonResponse } from "./router.ts";
import { pageOf, pageQuery, pathId, timestamp, WebhookPathParams } from "./schemas.ts";
import { badCursor, startOf } from "./page-cursor.ts";

export const STATUSES = ["pending", "delivered", "failed", "exhausted"] as const;

const DeliverySchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    webhook_id: z.string().openapi({ format: "uuid" }),
    event_id: z.string().openapi({ format: "uuid" }),
    event_type: z.string(),
    status: z.enum(STATUSES),
    attempt_count: z.number().int(),
    next_attempt_at: timestamp(),
    resource_id: z.string().openapi({ format: "uuid" }).nullable(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: timestamp(),
    updated_at: timestamp(),
  })
  .openapi("Delivery");

const AttemptSchema = z
  .object({
    attempt_number: z.number().int(),
    outcome: z.string().openapi({ example: "failed" }),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number().int().nullable(),
    response_body: z.string().nullable().openapi({ description: "The first 4 KiB of the receiver's answer" }),
    created_at: timestamp(),
  })
  .openapi("Attempt");

/** Stands for the values statehook does not keep. */
const NOT_STORED = "[not stored: set at each attempt's send]";
const SIGNATURE_SHOWN = "v1,[redacted]";

const DeliveryDetailSchema = DeliverySchema.extend({
  user_id: z.string().openapi({ format: "uuid" }).nullable(),
  payload: z.unknown().openapi({ description: 'The body sent: {"type", "timestamp", "data"}' }),
  request_headers: z.record(z.string(), z.string()).openapi({
    description: "The headers every attempt sent, reconstructed: webhook-id is the event id, the signature " +
      `is withheld, and webhook-timestamp (unix seconds at each send) is not stored, so it reads "${NOT_STORED}"`,
  }),
  attempts: z.array(AttemptSchema),
}).openapi("DeliveryDetail");

/** What each attempt of a delivery sent as headers, as far as the row tells. */
function requestHeaders(eventId: string): Record<string, string> {
  return standardHeaders(eventId, NOT_STORED, SIGNATURE_SHOWN);
}

export const DeliveryPage = pageOf(DeliverySchema, "DeliveryPage");

const list = adminRoute("deliveries", {
  method: "get",
  path: "/admin/api/v1/users/{user_id}/webhooks/{webhook_id}/deliveries",
  operationId: "listWebhookDeliveries",
  summary: "List a webhook's deliveries, newest first",
  request: {
    params: WebhookPathParams,
    query: z.object({
      status: z.enum(STATUSES).optional(),
      ...pageQuery,
    }),
  },
  responses: {
    200: jsonResponse(DeliveryPage, "A page of deliveries"),
    404: errorResponse("No such webhook for this user"),
  },
});

// Each delivery route twice: for any user's delivery (dwctl's path) and
// under /users/{user_id}/ for one user's (404 for another's).
const DeliveryParams = z.object({ id: pathId("id") });
const UserDeliveryParams = DeliveryParams.extend({ user_id: pathId("user_id") });
type Params = typeof DeliveryParams | typeof UserDeliveryParams;
/** Where the route sits, what its path names, and what its 404 says. */
type Scope<P extends Params> = { prefix: string; params: P; missing: string };
const anyUser = { prefix: "/admin/api/v1", params: DeliveryParams, missing: "No such delivery" };
const oneUser = {
  prefix: "/admin/api/v1/users/{user_id}",
  params: UserDeliveryParams,
  missing: "No such delivery for this user",
};

/** One delivery with its attempts. */
const detailRoute = <P extends Params>(scope: Scope<P>, operationId: string, summary: string) =>
  adminRoute("deliveries", {
    method: "get",
    path: `${scope.prefix}/deliveries/{id}`,
    operationId,
    summary,
    request: { params: scope.params },
    responses: { 200: jsonResponse(DeliveryDetailSchema, "The delivery"), 404: errorResponse(scope.missing) },
  });

/** Retry: re-queue it now with a fresh schedule. */
const retryRoute = <P extends Params>(scope: Scope<P>, operationId: string, summary: string) =>
  adminRoute("deliveries", {
    method: "post",
    path: `${scope.prefix}/deliveries/{id}/retry`,
    operationId,
    summary,
    request: { params: scope.params },
    responses: {
      202: jsonResponse(DeliverySchema, "Queued again"),
      404: errorResponse(scope.missing),
      409: errorResponse("Pending or delivered already, or its webhook is disabled"),
    },
  });

const get = detailRoute(anyUser, "getDelivery", "A delivery with its attempt history");
const getOwn = detailRoute(oneUser, "getUserDelivery", "One of this user's deliveries with its attempt history");
const retry = retryRoute(
  anyUser,
  "retryDelivery",
  "Re-queue a failed or exhausted delivery now, with a fresh schedule",
);
const retryOwn = retryRoute(
  oneUser,
  "retryUserDelivery",
  "Re-queue one of this user's failed or exhausted deliveries now, with a fresh schedule",
);

export function deliveryJson(d: DeliverySummary) {
  return {
    id: d.id,
    webhook_id: d.webhook_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempt_count: d.attempt_count,
    next_attempt_at: d.next_attempt_at.toISOString(),
    resource_id: d.resource_id,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
  };
}

function attemptJson(a: AttemptRow) {
  return { ...a, created_at: a.created_at.toISOString() };
}

export function deliveryRoutes(deps: ApiDeps) {
  const { sql } = deps;
  const router = createRouter()
    .openapi(list, async (c) => {
      const { user_id, webhook_id } = c.req.valid("param");
      const { status, limit, cursor } = c.req.valid("query");
      const after = startOf(cursor);
      if (after === null) return badCursor(c);
      if (!(await getWebhook(sql, user_id, webhook_id))) {
        return apiError(c, 404, "not_found", `no webhook ${webhook_id} for this user`);
      }
      const page = await listDeliveries(sql, webhook_id, {
        status: status as DeliveryStatus | undefined,
        limit,
        after,
      });
      return c.json({
        data: page.deliveries.map(deliveryJson),
        next_cursor: page.next ? encodeCursor(page.next) : null,
      }, 200);
    })
    .openapi(get, async (c) => await showDelivery(c, c.req.valid("param").id))
    .openapi(getOwn, async (c) => await showDelivery(c, c.req.valid("param").id, c.req.valid("param").user_id))
    .openapi(retry, async (c) => await requeue(c, c.req.valid("param").id))
    .openapi(retryOwn, async (c) => await requeue(c, c.req.valid("param").id, c.req.valid("param").user_id));
  return router;

  async function showDelivery(c: Context, id: string, owner?: string) {
    const detail = await getDeliveryDetail(sql, id, owner);
    if (!detail) return apiError(c, 404, "not_found", `no delivery ${id}${owner ? " for this user" : ""}`);
    return c.json({
      ...deliveryJson(detail),
      user_id: detail.user_id,
      payload: detail.payload,
      request_headers: requestHeaders(detail.event_id),
      attempts: detail.attempts.map(attemptJson),
    }, 200);
  }

  async function requeue(c: Context, id: string, owner?: string) {
    const result = await retryDelivery(sql, id, owner);
    if (result.ok) {
      deps.onDeliveriesQueued?.();
      return c.json(deliveryJson(result.delivery), 202);
    }
    switch (result.reason) {
      case "not_found":
        return apiError(c, 404, "not_found", `no delivery ${id}${owner ? " for this user" : ""}`);
      case "webhook_disabled":
        return apiError(
          c,
          409,
          "webhook_disabled",
          "the delivery's webhook is disabled; enable it with PATCH enabled: true first",
        );
      case "not_retryable":
        return apiError(
          c,
          409,
          "not_retryable",
          `delivery is ${result.status}; only failed or exhausted deliveries can be retried`,
        );
    }
  }
}
