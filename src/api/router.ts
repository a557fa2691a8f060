// What every resource module of the API builds on: the dependencies it is
// handed, an OpenAPIHono whose validation failures come out as our
// `{"error": {"code", "message"}}` 400s, and the route definition every
// /admin/api route shares (its tag, the bearer scheme, the 400 and 401, and
// for a route with a body the 413 and 415).
import { createRoute, OpenAPIHono, type RouteConfig, type z } from "@hono/zod-openapi";
import type { Sql } from "../db/client.ts";
import type { Resolve } from "../send/target-guard.ts";
import { errorResponse, validationHook } from "./errors.ts";

export type ApiDeps = {
  sql: Sql;
  /** Off in production: webhook URLs may not point at loopback or private networks. */
  allowPrivateTargets: boolean;
  /** DNS lookup for the SSRF check; tests pass a fake one. */
  resolve?: Resolve;
  /** Tells the running dispatcher that a webhook was re-enabled (resets its breaker). */
  onWebhookReenabled?: (webhookId: string) => void;
  /** Tells the running dispatcher that deliveries became due (retry). */
  onDeliveriesQueued?: () => void;
  /** Whether `scope: "platform"` (every user's events) may be created; 403 otherwise. */
  allowPlatformWebhooks: boolean;
  /** Webhooks one user may have; one more is a 409. */
  maxWebhooksPerUser: number;
  /** Payload bytes × matching webhooks one publish may write; a 413 beyond. */
  maxPublishBytes: number;
};

export function createRouter() {
  return new OpenAPIHono({ defaultHook: validationHook });
}

/** The bearer scheme every /admin/api route declares in the OpenAPI document. */
export const security = [{ bearer: [] }];

/** For OpenAPI route definitions: a documented JSON response. */
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/** For OpenAPI route definitions: a JSON request body, required unless said otherwise. */
export const jsonBody = <T extends z.ZodType>(schema: T, { required = true } = {}) => ({
  required,
  content: { "application/json": { schema } },
});

/** What any /admin/api route may answer: its input refused, or the token missing or wrong. */
const COMMON_RESPONSES = {
  400: errorResponse("Invalid input"),
  401: errorResponse("Missing or wrong bearer token"),
};

/** What a route that reads a body may answer too: mountApi's body limit, and the media-type check. */
const BODY_RESPONSES = {
  413: errorResponse("Body too large"),
  415: errorResponse("Body is not JSON"),
};

export type AdminRouteConfig<P extends string = string> = Omit<RouteConfig, "path" | "tags" | "security"> & {
  path: P;
  operationId: string;
  summary: string;
};

type BodyResponses<R extends AdminRouteConfig> = R extends { request: { body: object } } ? typeof BODY_RESPONSES
  : unknown;

/**
 * An /admin/api route: `createRoute` with the tag, the bearer scheme, the
 * common 400 and 401, and for a route with a body its 413 and 415 filled in;
 * the route's own responses come on top (a more precise 400 replaces the
 * common one).
 * `adminRoute("webhooks", { method: "get", path, operationId, summary, request, responses })`
 */
export function adminRoute<P extends string, R extends AdminRouteConfig<P>>(tag: string, route: R) {
  // In the document's order: operationId, tags, security, summary, then the rest.
  const { operationId, summary, ...rest } = route;
  return createRoute({
    operationId,
    tags: [tag],
    security,
    summary,
    ...rest,
    responses: {
      ...COMMON_RESPONSES,
      ...(route.request?.body ? BODY_RESPONSES : {}),
      ...route.responses,
    } as typeof COMMON_RESPONSES & BodyResponses<R> & R["responses"],
  });
}
