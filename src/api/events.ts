// Publishing: POST /admin/api/v1/events fans one event out to the user's own
// webhooks and every platform webhook that wants its type, in one statement
// (shared with the publishes that arrive meanwhile).
// With a resource_id it is idempotent per webhook: a second publish for the
// same resource queues nothing new and lists the webhooks it skipped.
// Each matching webhook gets its own copy of the payload, so a publish whose
// payload bytes × matching webhooks exceed STATEHOOK_MAX_PUBLISH_BYTES is a
// 413 and writes nothing.
import { z } from "@hono/zod-openapi";
import { createPublisher } from "../db/events.ts";
import { apiError, errorResponse } from "./errors.ts";
import { adminRoute, type ApiDeps, createRouter, jsonBody, jsonResponse } from "./router.ts";
import { eventType, timestamp, unstorableJson, uuid } from "./schemas.ts";

const PublishEvent = z
  .object({
    event_type: eventType(),
    data: z.record(z.string(), z.unknown()).openapi({
      description: "Delivered as the payload's data field.",
      example: { batch_id: "b_123", status: "completed" },
    }),
    user_id: uuid().nullable().optional().openapi({
      description: "Whose own webhooks receive it; omit for platform webhooks only.",
    }),
    resource_id: uuid().nullable().optional().openapi({
      description: "Makes the publish idempotent: one delivery per (webhook, event type, resource).",
    }),
  })
  .strict()
  .openapi("PublishEvent");

const QueuedDelivery = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    webhook_id: z.string().openapi({ format: "uuid" }),
    status: z.enum(["pending", "delivered", "failed", "exhausted"]),
    next_attempt_at: timestamp(),
    created_at: timestamp(),
  })
  .openapi("QueuedDelivery");

const Published = z
  .object({
    event_id: z.string().openapi({
      format: "uuid",
      description: "The webhook-id header of every delivery of this event",
    }),
    event_type: z.string(),
    timestamp: timestamp(),
    deliveries: z.array(QueuedDelivery),
    duplicate_webhook_ids: z.array(z.string().openapi({ format: "uuid" })).openapi({
      description: "Webhooks that already had a delivery for this resource_id, so got none now",
    }),
  })
  .openapi("PublishedEvent");

const publish = adminRoute("events", {
  method: "post",
  path: "/admin/api/v1/events",
  operationId: "publishEvent",
  summary: "Publish an event to every webhook that wants it",
  request: { body: jsonBody(PublishEvent) },
  responses: {
    202: jsonResponse(Published, "Queued for delivery"),
    413: errorResponse("Body too large, or payload bytes × matching webhooks over STATEHOOK_MAX_PUBLISH_BYTES"),
  },
});

export function eventRoutes(deps: ApiDeps) {
  const publishEvent = createPublisher(deps.sql, { maxBytes: deps.maxPublishBytes });
  return createRouter().openapi(publish, async (c) => {
    const body = c.req.valid("json");
    const unstorable = unstorableJson(body.data);
    if (unstorable) return apiError(c, 400, "invalid_request", `body.data: ${unstorable}`);
    const event = await publishEvent({
      eventType: body.event_type,
      data: body.data,
      userId: body.user_id,
      resourceId: body.resource_id,
    });
    if ("tooLarge" in event) {
      const { payloadBytes, webhooks, maxBytes } = event.tooLarge;
      return apiError(
        c,
        413,
        "publish_too_large",
        `this publish would write ${webhooks} webhooks × ${payloadBytes} payload bytes = ${
          webhooks * payloadBytes
        } bytes, more than STATEHOOK_MAX_PUBLISH_BYTES (${maxBytes})`,
      );
    }
    if (event.deliveries.length > 0) deps.onDeliveriesQueued?.();
    return c.json({
      event_id: event.eventId,
      event_type: body.event_type,
      timestamp: event.timestamp.toISOString(),
      deliveries: event.deliveries.map((d) => ({
        id: d.id,
        webhook_id: d.webhook_id,
        status: d.status,
        next_attempt_at: d.next_attempt_at.toISOString(),
        created_at: d.created_at.toISOString(),
      })),
      duplicate_webhook_ids: event.duplicateWebhookIds,
    }, 202);
  });
}
