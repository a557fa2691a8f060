// Delivery inspection and replay: a webhook's deliveries (newest first, keyset
// pagination), one delivery with its attempt history, and retry, which
// re-queues a failed or exhausted delivery now with a fresh schedule.
// /deliveries/{id} reaches any user's delivery, as in dwctl; the same two
// routes under /users/{user_id}/ answer 404 for another user's, for callers
// that act on behalf of one user.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { DeliveryStatus } from "../db/delivery-row.ts";
import {
  type AttemptRow,
  decodeCursor,
  type DeliverySummary,
  encodeCursor,
  getDeliveryDetail,
  listDeliveries,
  retryDelivery,
} from "../db/delivery-queries.ts";
import { getWebhook } from "../db/webhooks.ts";
import { apiError, errorResponse } from "./errors.ts";
import { type ApiDeps, createRouter, security } from "./router.ts";
import { timestamp, uuid } from "./schemas.ts";

export const STATUSES = ["pending", "delivered", "failed", "exhausted"] as const;

export const DeliverySchema = z
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
export const NOT_STORED = "[not stored: set at each attempt's send]";
export const SIGNATURE_SHOWN = "v1,[redacted]";

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
  return {
    "webhook-id": eventId,
    "webhook-timestamp": NOT_STORED,
    "webhook-signature": SIGNATURE_SHOWN,
    "webhook-version": "1",
    "content-type": "application/json",
  };
}

export const DeliveryPage = z
  .object({
    data: z.array(DeliverySchema),
    next_cursor: z.string().nullable().openapi({ description: "Pass as cursor for the next page; null on the last" }),
  })
  .openapi("DeliveryPage");

const tags = ["deliveries"];
const unauthorized = errorResponse("Missing or wrong bearer token");

const list = createRoute({
  method: "get",
  path: "/admin/api/v1/users/{user_id}/webhooks/{webhook_id}/deliveries",
  operationId: "listWebhookDeliveries",
  tags,
  security,
  summary: "List a webhook's deliveries, newest first",
  request: {
    params: z.object({
      user_id: uuid().openapi({ param: { name: "user_id", in: "path" } }),
      webhook_id: uuid().openapi({ param: { name: "webhook_id", in: "path" } }),
    }),
    query: z.object({
      status: z.enum(STATUSES).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ type: "integer" }),
      cursor: z.string().max(200).optional(),
    }),
  },
  responses: {
    200: { content: { "application/json": { schema: DeliveryPage } }, description: "A page of deliveries" },
    400: errorResponse("Invalid input"),
    401: unauthorized,
    404: errorResponse("No such webhook for this user"),
  },
});

const DeliveryParams = z.object({ id: uuid().openapi({ param: { name: "id", in: "path" } }) });
const UserDeliveryParams = DeliveryParams.extend({
  user_id: uuid().openapi({ param: { name: "user_id", in: "path" } }),
});

type Params = typeof DeliveryParams | typeof UserDeliveryParams;

/** One delivery with its attempts: for any user's (dwctl's path) or one user's (404 for another's). */
const detailRoute = <P extends Params>(
  path: string,
  operationId: string,
  params: P,
  summary: string,
  missing: string,
) =>
  createRoute({
    method: "get",
    path,
    operationId,
    tags,
    security,
    summary,
    request: { params },
    responses: {
      200: { content: { "application/json": { schema: DeliveryDetailSchema } }, description: "The delivery" },
      400: errorResponse("Invalid input"),
      401: unauthorized,
      404: errorResponse(missing),
    },
  });

/** Retry, likewise for any user's delivery or one user's. */
const retryRoute = <P extends Params>(path: string, operationId: string, params: P, summary: string, missing: string) =>
  createRoute({
    method: "post",
    path,
    operationId,
    tags,
    security,
    summary,
    request: { params },
    responses: {
      202: { content: { "application/json": { schema: DeliverySchema } }, description: "Queued again" },
      400: errorResponse("Invalid input"),
      401: unauthorized,
      404: errorResponse(missing),
      409: errorResponse("Pending or delivered already, or its webhook is disabled"),
    },
  });

const get = detailRoute(
  "/admin/api/v1/deliveries/{id}",
  "getDelivery",
  DeliveryParams,
  "A delivery with its attempt history",
  "No such delivery",
);
const getOwn = detailRoute(
  "/admin/api/v1/users/{user_id}/deliveries/{id}",
  "getUserDelivery",
  UserDeliveryParams,
  "One of this user's deliveries with its attempt history",
  "No such delivery for this user",
);
const retry = retryRoute(
  "/admin/api/v1/deliveries/{id}/retry",
  "retryDelivery",
  DeliveryParams,
  "Re-queue a failed or exhausted delivery now, with a fresh schedule",
  "No such delivery",
);
const retryOwn = retryRoute(
  "/admin/api/v1/users/{user_id}/deliveries/{id}/retry",
  "retryUserDelivery",
  UserDeliveryParams,
  "Re-queue one of this user's failed or exhausted deliveries now, with a fresh schedule",
  "No such delivery for this user",
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
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      if (cursor !== undefined && !after) {
        return apiError(c, 400, "invalid_cursor", "query.cursor: not a cursor from next_cursor");
      }
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
