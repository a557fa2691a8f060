// What every resource module of the API builds on: the dependencies it is
// handed, and an OpenAPIHono whose validation failures come out as our
// `{"error": {"code", "message"}}` 400s.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Sql } from "../db/client.ts";
import type { Resolve } from "../send/target-guard.ts";
import { validationHook } from "./errors.ts";

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
