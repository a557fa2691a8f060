// The request statehook sends to every webhook, described under the OpenAPI
// 3.1 document's top-level `webhooks`: Standard Webhooks headers and the
// stored {type, timestamp, data} body. Receivers can generate a handler
// from it as they would from any operation.
import { type OpenAPIHono, z } from "@hono/zod-openapi";

const EventBody = z
  .object({
    type: z.string().openapi({ example: "batch.completed", description: "The event type" }),
    timestamp: z.string().openapi({ format: "date-time", description: "When the event was published" }),
    data: z.record(z.string(), z.unknown()).openapi({ description: "The data given to POST /admin/api/v1/events" }),
  })
  .openapi("WebhookEvent");

const Headers = z.object({
  "webhook-id": z.string().openapi({
    format: "uuid",
    description: "The event id: the same on every retry and for every webhook of one event, for deduplication",
  }),
  "webhook-timestamp": z.string().openapi({
    example: "1735732800",
    description: "Unix seconds at the attempt's send; reject requests too far from your clock",
  }),
  "webhook-signature": z.string().openapi({
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    description: "v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{body}> keyed with the " +
      "base64-decoded secret after whsec_; accept any of several space-separated ones (Standard Webhooks)",
  }),
  "webhook-version": z.literal("1"),
  "content-type": z.literal("application/json"),
});

export function describeOutboundRequest(registry: OpenAPIHono["openAPIRegistry"]): void {
  registry.registerWebhook({
    method: "post",
    path: "event",
    operationId: "receiveEvent",
    tags: ["outbound"],
    summary: "What statehook POSTs to a webhook's url for each delivery attempt",
    description: "Signed per Standard Webhooks (https://www.standardwebhooks.com). A 2xx answer delivers it; " +
      "anything else, or no answer within the timeout, is retried on the schedule.",
    request: {
      headers: Headers,
      body: { required: true, content: { "application/json": { schema: EventBody } } },
    },
    responses: {
      "2XX": { description: "Delivered" },
      default: { description: "Failed: retried later, or exhausted after the last attempt" },
    },
  });
}
