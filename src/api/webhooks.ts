// Webhook management, dwctl's paths and fields: list, create, get, patch,
// delete and rotate-secret under /admin/api/v1/users/{user_id}/webhooks.
// The secret leaves only in the create and rotate responses; a webhook of
// another user is a 404, so ids of other users' webhooks leak nothing.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  rotateSecret,
  updateWebhook,
  type WebhookView,
} from "../db/webhooks.ts";
import { checkTargetAtCreate } from "../send/target-guard.ts";
import { apiError, errorResponse } from "./errors.ts";
import { type ApiDeps, createRouter, security } from "./router.ts";
import { eventType, isoOrNull, text, timestamp, uuid } from "./schemas.ts";

const Url = text(2048).openapi({ example: "https://example.com/hooks/statehook" });
const EventTypes = z
  .array(eventType())
  .min(1, "must list at least one event type; use null for all")
  .max(100)
  .nullable()
  .openapi({ description: "Event types to receive; null for all." });
const Description = text(1000).nullable();

export const WebhookSchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    user_id: z.string().openapi({ format: "uuid" }),
    url: z.string(),
    enabled: z.boolean(),
    event_types: z.array(z.string()).nullable(),
    description: z.string().nullable(),
    scope: z.enum(["own", "platform"]),
    created_at: timestamp(),
    updated_at: timestamp(),
    disabled_at: timestamp().nullable(),
  })
  .openapi("Webhook");

const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
}).openapi("WebhookWithSecret");

const CreateWebhook = z
  .object({
    url: Url,
    event_types: EventTypes.optional(),
    description: Description.optional(),
    scope: z.enum(["own", "platform"]).optional().openapi({
      description: "own (default): this user's events; platform: every user's",
    }),
  })
  .strict()
  .openapi("CreateWebhook");

const UpdateWebhook = z
  .object({
    url: Url.optional(),
    enabled: z.boolean().optional().openapi({ description: "true also clears disabled_at and the failure counter" }),
    event_types: EventTypes.optional(),
    description: Description.optional(),
  })
  .strict()
  .openapi("UpdateWebhook");

const UserParams = z.object({ user_id: uuid().openapi({ param: { name: "user_id", in: "path" } }) });
const WebhookParams = UserParams.extend({
  webhook_id: uuid().openapi({ param: { name: "webhook_id", in: "path" } }),
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const common = {
  400: errorResponse("Invalid input"),
  401: errorResponse("Missing or wrong bearer token"),
};

const BASE = "/admin/api/v1/users/{user_id}/webhooks";
const tags = ["webhooks"];

const list = createRoute({
  method: "get",
  path: BASE,
  operationId: "listWebhooks",
  tags,
  security,
  summary: "List a user's webhooks, newest first",
  request: { params: UserParams },
  responses: { 200: json(z.array(WebhookSchema), "The webhooks"), ...common },
});

const create = createRoute({
  method: "post",
  path: BASE,
  operationId: "createWebhook",
  tags,
  security,
  summary: "Create a webhook; the response carries its secret, once",
  request: { params: UserParams, body: { required: true, content: { "application/json": { schema: CreateWebhook } } } },
  responses: {
    201: json(WebhookWithSecretSchema, "The webhook, with its signing secret"),
    ...common,
    413: errorResponse("Body too large"),
    415: errorResponse("Body is not JSON"),
  },
});

const get = createRoute({
  method: "get",
  path: `${BASE}/{webhook_id}`,
  operationId: "getWebhook",
  tags,
  security,
  summary: "Get a webhook",
  request: { params: WebhookParams },
  responses: {
    200: json(WebhookSchema, "The webhook"),
    ...common,
    404: errorResponse("No such webhook for this user"),
  },
});

const update = createRoute({
  method: "patch",
  path: `${BASE}/{webhook_id}`,
  operationId: "updateWebhook",
  tags,
  security,
  summary: "Update a webhook; enabled: true re-enables one the circuit breaker disabled",
  request: {
    params: WebhookParams,
    body: { required: true, content: { "application/json": { schema: UpdateWebhook } } },
  },
  responses: {
    200: json(WebhookSchema, "The updated webhook"),
    ...common,
    404: errorResponse("No such webhook for this user"),
    413: errorResponse("Body too large"),
    415: errorResponse("Body is not JSON"),
  },
});

const remove = createRoute({
  method: "delete",
  path: `${BASE}/{webhook_id}`,
  operationId: "deleteWebhook",
  tags,
  security,
  summary: "Delete a webhook and its deliveries",
  request: { params: WebhookParams },
  responses: { 204: { description: "Deleted" }, ...common, 404: errorResponse("No such webhook for this user") },
});

const rotate = createRoute({
  method: "post",
  path: `${BASE}/{webhook_id}/rotate-secret`,
  operationId: "rotateWebhookSecret",
  tags,
  security,
  summary: "Replace the signing secret; the old one stops signing at once",
  request: { params: WebhookParams },
  responses: {
    200: json(WebhookWithSecretSchema, "The webhook, with its new secret"),
    ...common,
    404: errorResponse("No such webhook for this user"),
  },
});

export function webhookJson(w: WebhookView) {
  return {
    id: w.id,
    user_id: w.user_id,
    url: w.url,
    enabled: w.enabled,
    event_types: w.event_types,
    description: w.description,
    scope: w.scope,
    created_at: w.created_at.toISOString(),
    updated_at: w.updated_at.toISOString(),
    disabled_at: isoOrNull(w.disabled_at),
  };
}

const notFound = (c: Context, id: string) => apiError(c, 404, "not_found", `no webhook ${id} for this user`);

export function webhookRoutes(deps: ApiDeps) {
  const { sql } = deps;
  const refusal = async (url: string) => {
    const check = await checkTargetAtCreate(url, { allowPrivate: deps.allowPrivateTargets, resolve: deps.resolve });
    return check.ok ? undefined : check;
  };

  return createRouter()
    .openapi(list, async (c) => {
      const { user_id } = c.req.valid("param");
      return c.json((await listWebhooks(sql, user_id)).map(webhookJson), 200);
    })
    .openapi(create, async (c) => {
      const { user_id } = c.req.valid("param");
      const body = c.req.valid("json");
      const refused = await refusal(body.url);
      if (refused) return apiError(c, 400, refused.code, refused.message);
      const { webhook, secret } = await createWebhook(sql, {
        userId: user_id,
        url: body.url,
        eventTypes: body.event_types ?? null,
        description: body.description ?? null,
        scope: body.scope ?? "own",
      });
      return c.json({ ...webhookJson(webhook), secret }, 201);
    })
    .openapi(get, async (c) => {
      const { user_id, webhook_id } = c.req.valid("param");
      const webhook = await getWebhook(sql, user_id, webhook_id);
      return webhook ? c.json(webhookJson(webhook), 200) : notFound(c, webhook_id);
    })
    .openapi(update, async (c) => {
      const { user_id, webhook_id } = c.req.valid("param");
      const body = c.req.valid("json");
      if (body.url !== undefined) {
        const refused = await refusal(body.url);
        if (refused) return apiError(c, 400, refused.code, refused.message);
      }
      const webhook = await updateWebhook(sql, user_id, webhook_id, {
        url: body.url,
        enabled: body.enabled,
        eventTypes: body.event_types,
        description: body.description,
      });
      if (!webhook) return notFound(c, webhook_id);
      if (body.enabled === true) deps.onWebhookReenabled?.(webhook.id);
      return c.json(webhookJson(webhook), 200);
    })
    .openapi(remove, async (c) => {
      const { user_id, webhook_id } = c.req.valid("param");
      return (await deleteWebhook(sql, user_id, webhook_id)) ? c.body(null, 204) : notFound(c, webhook_id);
    })
    .openapi(rotate, async (c) => {
      const { user_id, webhook_id } = c.req.valid("param");
      const rotated = await rotateSecret(sql, user_id, webhook_id);
      return rotated
        ? c.json({ ...webhookJson(rotated.webhook), secret: rotated.secret }, 200)
        : notFound(c, webhook_id);
    });
}
