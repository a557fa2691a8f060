// Webhook management, dwctl's paths and fields: list, create, get, patch,
// delete and rotate-secret under /admin/api/v1/users/{user_id}/webhooks.
// The secret leaves only in the create and rotate responses; a webhook of
// another user is a 404, so ids of other users' webhooks leak nothing.
// Creating is capped per user, and a `platform` webhook, which receives every
// user's events, only where the operator allows them.
import { type RouteConfig, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  createWebhookWithinLimit,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  rotateSecret,
  updateWebhook,
  type WebhookView,
} from "../db/webhooks.ts";
import { checkTargetAtCreate } from "../send/target-guard.ts";
import { apiError, errorResponse } from "./errors.ts";
import { adminRoute, type AdminRouteConfig, type ApiDeps, createRouter, jsonBody, jsonResponse } from "./router.ts";
import { eventType, isoOrNull, text, timestamp, UserPathParams, WebhookPathParams } from "./schemas.ts";
import { normaliseUrl, WebhookUrl } from "./webhook-url.ts";

const EventTypes = z
  .array(eventType())
  .min(1, "must list at least one event type; use null for all")
  .max(100)
  .nullable()
  .openapi({ description: "Event types to receive; null for all." });
const Description = text(1000).nullable();
const RateLimit = z.number().int().min(1).max(10_000).nullable().openapi({
  description: "Deliveries per second to this endpoint, across all replicas; null for no limit.",
  example: 50,
});
const MaxInFlight = z.number().int().min(1).max(100_000).nullable().openapi({
  description: "Requests open to this endpoint at once; null for STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK.",
  example: 20,
});
const RotateSecret = z
  .object({
    grace_period_secs: z.number().int().min(0).max(604_800).optional().openapi({
      description: "How long the old secret signs too (a second signature); default 86400.",
    }),
  })
  .strict()
  .openapi("RotateSecret");
const DEFAULT_GRACE_SECS = 86_400;

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
    rate_limit: z.number().int().nullable(),
    max_in_flight: z.number().int().nullable(),
    breaker_state: z.enum(["closed", "open", "half_open"]).openapi({
      description: "open: tripped (failures or 410 Gone); half_open: its one probe is out",
    }),
  })
  .openapi("Webhook");

const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
}).openapi("WebhookWithSecret");

const CreateWebhook = z
  .object({
    url: WebhookUrl,
    event_types: EventTypes.optional(),
    description: Description.optional(),
    scope: z.enum(["own", "platform"]).optional().openapi({
      description: "own (default): this user's events; platform: every user's, " +
        "only where STATEHOOK_ALLOW_PLATFORM_WEBHOOKS=true (403 otherwise)",
    }),
    rate_limit: RateLimit.optional(),
    max_in_flight: MaxInFlight.optional(),
  })
  .strict()
  .openapi("CreateWebhook");

const UpdateWebhook = z
  .object({
    url: WebhookUrl.optional(),
    enabled: z.boolean().optional().openapi({ description: "true also clears disabled_at and the failure counter" }),
    event_types: EventTypes.optional(),
    description: Description.optional(),
    rate_limit: RateLimit.optional(),
    max_in_flight: MaxInFlight.optional(),
  })
  .strict()
  .openapi("UpdateWebhook");

const BASE = "/admin/api/v1/users/{user_id}/webhooks";
const notFoundResponse = errorResponse("No such webhook for this user");

const list = adminRoute("webhooks", {
  method: "get",
  path: BASE,
  operationId: "listWebhooks",
  summary: "List a user's webhooks, newest first",
  request: { params: UserPathParams },
  responses: { 200: jsonResponse(z.array(WebhookSchema), "The webhooks") },
});

const create = adminRoute("webhooks", {
  method: "post",
  path: BASE,
  operationId: "createWebhook",
  summary: "Create a webhook; the response carries its secret, once",
  request: {
    params: UserPathParams,
    body: jsonBody(CreateWebhook),
  },
  responses: {
    201: jsonResponse(WebhookWithSecretSchema, "The webhook, with its signing secret"),
    403: errorResponse("scope: platform, and STATEHOOK_ALLOW_PLATFORM_WEBHOOKS is off"),
    409: errorResponse("The user has STATEHOOK_MAX_WEBHOOKS_PER_USER webhooks already"),
  },
});

type OneWebhookRouteConfig = Omit<AdminRouteConfig, "path" | "request"> & {
  request?: { body: NonNullable<RouteConfig["request"]>["body"] };
};
type WithWebhookParams<Q> = { params: typeof WebhookPathParams } & (Q extends object ? Q : unknown);

/** A route on one of the user's webhooks: its id in the path, and a 404 when the user has no such webhook. */
function oneWebhookRoute<R extends OneWebhookRouteConfig>(pathAfterId: string, route: R) {
  return adminRoute("webhooks", {
    ...route,
    path: `${BASE}/{webhook_id}${pathAfterId}`,
    request: { params: WebhookPathParams, ...route.request } as WithWebhookParams<R["request"]>,
    responses: { ...route.responses, 404: notFoundResponse } as R["responses"] & { 404: typeof notFoundResponse },
  });
}

const get = oneWebhookRoute("", {
  method: "get",
  operationId: "getWebhook",
  summary: "Get a webhook",
  responses: { 200: jsonResponse(WebhookSchema, "The webhook") },
});

const update = oneWebhookRoute("", {
  method: "patch",
  operationId: "updateWebhook",
  summary: "Update a webhook; enabled: true re-enables one the circuit breaker disabled",
  request: { body: jsonBody(UpdateWebhook) },
  responses: { 200: jsonResponse(WebhookSchema, "The updated webhook") },
});

const remove = oneWebhookRoute("", {
  method: "delete",
  operationId: "deleteWebhook",
  summary: "Delete a webhook and its deliveries",
  responses: { 204: { description: "Deleted" } },
});

const rotate = oneWebhookRoute("/rotate-secret", {
  method: "post",
  operationId: "rotateWebhookSecret",
  summary: "Replace the signing secret; the old one signs too for the grace period",
  request: { body: jsonBody(RotateSecret, { required: false }) },
  responses: { 200: jsonResponse(WebhookWithSecretSchema, "The webhook, with its new secret") },
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
    rate_limit: w.rate_limit,
    max_in_flight: w.max_in_flight,
    breaker_state: w.breaker_state,
  };
}

const notFound = (c: Context, id: string) => apiError(c, 404, "not_found", `no webhook ${id} for this user`);

export function webhookRoutes(deps: ApiDeps) {
  const { sql } = deps;
  // The URL as it will be stored and requested, or why not: the target
  // check runs on the normalised form, since that is what fetch will reach.
  const target = async (given: string) => {
    const normalised = normaliseUrl(given);
    if (!normalised.ok) return normalised;
    const check = await checkTargetAtCreate(normalised.url, {
      allowPrivate: deps.allowPrivateTargets,
      resolve: deps.resolve,
    });
    return check.ok ? normalised : check;
  };

  return createRouter()
    .openapi(list, async (c) => {
      const { user_id } = c.req.valid("param");
      return c.json((await listWebhooks(sql, user_id)).map(webhookJson), 200);
    })
    .openapi(create, async (c) => {
      const { user_id } = c.req.valid("param");
      const body = c.req.valid("json");
      if (body.scope === "platform" && !deps.allowPlatformWebhooks) {
        return apiError(
          c,
          403,
          "platform_webhooks_disabled",
          'scope "platform" receives every user\'s events; set STATEHOOK_ALLOW_PLATFORM_WEBHOOKS=true to allow it',
        );
      }
      const checked = await target(body.url);
      if (!checked.ok) return apiError(c, 400, checked.code, checked.message);
      const created = await createWebhookWithinLimit(sql, {
        userId: user_id,
        url: checked.url,
        eventTypes: body.event_types ?? null,
        description: body.description ?? null,
        scope: body.scope ?? "own",
        rateLimit: body.rate_limit ?? null,
        maxInFlight: body.max_in_flight ?? null,
      }, deps.maxWebhooksPerUser);
      if (!created) {
        return apiError(
          c,
          409,
          "webhook_limit_reached",
          `a user may have at most ${deps.maxWebhooksPerUser} webhooks (STATEHOOK_MAX_WEBHOOKS_PER_USER); delete one first`,
        );
      }
      return c.json({ ...webhookJson(created.webhook), secret: created.secret }, 201);
    })
    .openapi(get, async (c) => {
      const { user_id, webhook_id } = c.req.valid("param");
      const webhook = await getWebhook(sql, user_id, webhook_id);
      return webhook ? c.json(webhookJson(webhook), 200) : notFound(c, webhook_id);
    })
    .openapi(update, async (c) => {
      const { user_id, webhook_id } = c.req.valid("param");
      const body = c.req.valid("json");
      let url: string | undefined;
      if (body.url !== undefined) {
        const checked = await target(body.url);
        if (!checked.ok) return apiError(c, 400, checked.code, checked.message);
        url = checked.url;
      }
      const webhook = await updateWebhook(sql, user_id, webhook_id, {
        url,
        enabled: body.enabled,
        eventTypes: body.event_types,
        description: body.description,
        rateLimit: body.rate_limit,
        maxInFlight: body.max_in_flight,
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
      const body = c.req.valid("json") ?? {};
      const rotated = await rotateSecret(sql, user_id, webhook_id, body.grace_period_secs ?? DEFAULT_GRACE_SECS);
      return rotated
        ? c.json({ ...webhookJson(rotated.webhook), secret: rotated.secret }, 200)
        : notFound(c, webhook_id);
    });
}
