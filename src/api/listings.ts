// The operator's listings across users: every webhook with its breaker state
// and latest attempt, and a search over every delivery. Both are newest
// first and keyset-paged like a webhook's own delivery list
// ({"data", "next_cursor"}), with the same cursors.
import { z } from "@hono/zod-openapi";
import { searchDeliveries } from "../db/delivery-queries.ts";
import type { DeliveryStatus } from "../db/delivery-row.ts";
import { encodeCursor } from "../db/keyset.ts";
import { listAllWebhooks, type WebhookOverview } from "../db/webhook-listing.ts";
import { deliveryJson, DeliveryPage, STATUSES } from "./deliveries.ts";
import { badCursor, startOf } from "./page-cursor.ts";
import { adminRoute, type ApiDeps, createRouter, jsonResponse } from "./router.ts";
import { eventType, isoOrNull, pageOf, pageQuery, rfc3339, timestamp, uuid, windowInOrder } from "./schemas.ts";
import { webhookJson, WebhookSchema } from "./webhooks.ts";

const WebhookOverviewSchema = WebhookSchema.extend({
  consecutive_failures: z.number().int(),
  last_attempt_at: timestamp().nullable().openapi({ description: "When the latest attempt was recorded" }),
  last_status_code: z.number().int().nullable().openapi({ description: "null: no attempt, or no HTTP answer" }),
}).openapi("WebhookOverview");

const WebhookOverviewPage = pageOf(WebhookOverviewSchema, "WebhookOverviewPage");

const webhooks = adminRoute("webhooks", {
  method: "get",
  path: "/admin/api/v1/webhooks",
  operationId: "listAllWebhooks",
  summary: "Every webhook across users, newest first, with its breaker state and latest attempt",
  request: {
    query: z.object({
      user_id: uuid().optional(),
      enabled: z.enum(["true", "false"]).optional(),
      ...pageQuery,
    }),
  },
  responses: { 200: jsonResponse(WebhookOverviewPage, "A page of webhooks") },
});

const deliveries = adminRoute("deliveries", {
  method: "get",
  path: "/admin/api/v1/deliveries",
  operationId: "searchDeliveries",
  summary: "Deliveries across webhooks, newest first; since/until bound created_at",
  request: {
    query: z.object({
      webhook_id: uuid().optional(),
      status: z.enum(STATUSES).optional(),
      event_type: eventType().optional(),
      since: rfc3339().optional().openapi({ description: "created_at at or after" }),
      until: rfc3339().optional().openapi({ description: "created_at before" }),
      ...pageQuery,
    }).refine(windowInOrder, { message: "since must not be after until", path: ["until"] }),
  },
  responses: { 200: jsonResponse(DeliveryPage, "A page of deliveries") },
});

function overviewJson(w: WebhookOverview) {
  return {
    ...webhookJson(w),
    consecutive_failures: w.consecutive_failures,
    last_attempt_at: isoOrNull(w.last_attempt_at),
    last_status_code: w.last_status_code,
  };
}

export function listingRoutes(deps: ApiDeps) {
  const { sql } = deps;
  return createRouter()
    .openapi(webhooks, async (c) => {
      const query = c.req.valid("query");
      const after = startOf(query.cursor);
      if (after === null) return badCursor(c);
      const page = await listAllWebhooks(
        sql,
        { userId: query.user_id, enabled: query.enabled === undefined ? undefined : query.enabled === "true" },
        { limit: query.limit, after },
      );
      return c.json({
        data: page.webhooks.map(overviewJson),
        next_cursor: page.next ? encodeCursor(page.next) : null,
      }, 200);
    })
    .openapi(deliveries, async (c) => {
      const query = c.req.valid("query");
      const after = startOf(query.cursor);
      if (after === null) return badCursor(c);
      const page = await searchDeliveries(sql, {
        webhookId: query.webhook_id,
        status: query.status as DeliveryStatus | undefined,
        eventType: query.event_type,
        since: query.since,
        until: query.until,
      }, { limit: query.limit, after });
      return c.json({
        data: page.deliveries.map(deliveryJson),
        next_cursor: page.next ? encodeCursor(page.next) : null,
      }, 200);
    });
}
