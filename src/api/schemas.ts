// Zod building blocks shared by the resource modules: ids, event types and
// strings Postgres can store. Postgres text cannot hold NUL, and jsonb refuses
// NUL and unpaired surrogates, so such input is a 400 here rather than a
// database error (a 500) later.
import { z } from "@hono/zod-openapi";

// deno-lint-ignore no-control-regex -- NUL is exactly what this refuses
const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const storableString = (s: string) => !NUL.test(s) && !LONE_SURROGATE.test(s);

/** A string Postgres can store as text. */
export const text = (max: number) =>
  z.string().max(max).refine(storableString, "must not contain NUL characters or unpaired surrogates");

/** Any 8-4-4-4-12 hex UUID, as Postgres' uuid type takes it (not only RFC 4122 variants). */
export const uuid = () => z.guid({ message: "must be a UUID" });

/** A UUID in the path, documented as the path parameter `name`. */
export const pathId = (name: string) => uuid().openapi({ param: { name, in: "path" } });

/** /users/{user_id}/…: the routes that act on behalf of one user. */
export const UserPathParams = z.object({ user_id: pathId("user_id") });

/** /users/{user_id}/webhooks/{webhook_id}/…: one of that user's webhooks. */
export const WebhookPathParams = UserPathParams.extend({ webhook_id: pathId("webhook_id") });

export const EVENT_TYPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/;

export const eventType = () =>
  z
    .string()
    .max(128)
    .regex(EVENT_TYPE, "must be dot-separated words, like batch.completed")
    .openapi({ example: "batch.completed" });

export const timestamp = () => z.string().openapi({ format: "date-time", example: "2025-01-01T12:00:00.000Z" });

const MAX_DEPTH = 64;

/**
 * Why a JSON value cannot be stored as jsonb, or undefined if it can. Walks
 * iteratively: a deeply nested body must not overflow the stack here.
 */
export function unstorableJson(value: unknown): string | undefined {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: item, depth } = stack.pop()!;
    if (depth > MAX_DEPTH) return `is nested more than ${MAX_DEPTH} levels deep`;
    if (typeof item === "string") {
      if (!storableString(item)) return "contains a NUL character or an unpaired surrogate";
    } else if (Array.isArray(item)) {
      for (const child of item) stack.push({ value: child, depth: depth + 1 });
    } else if (item !== null && typeof item === "object") {
      for (const [key, child] of Object.entries(item)) {
        if (!storableString(key)) return "has a key with a NUL character or an unpaired surrogate";
        stack.push({ value: child, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

export const isoOrNull = (date: Date | null) => (date === null ? null : date.toISOString());

// Postgres' timestamptz and JS Date agree on years 1 to 9999; year 0000, or
// 9999-12-31 with a negative offset, would reach Postgres as a year it refuses.
const EARLIEST = Date.parse("0001-01-01T00:00:00Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

/** An RFC 3339 date-time with its offset (Z or ±hh:mm), in years 0001–9999 (UTC). */
export const rfc3339 = () =>
  z.iso.datetime({ offset: true, message: "must be an RFC 3339 date-time, like 2025-01-01T12:00:00Z" })
    .refine((s) => {
      const at = Date.parse(s);
      return at >= EARLIEST && at <= LATEST;
    }, "must fall between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
    .openapi({ format: "date-time", example: "2025-01-01T12:00:00Z" });

/** The query fields every keyset-paged listing takes. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ type: "integer" }),
  cursor: z.string().max(200).optional().openapi({ description: "next_cursor of the previous page" }),
};

/** A keyset page of `item`, as every listing answers: `{"data", "next_cursor"}`, named `name` in the document. */
export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z
    .object({
      data: z.array(item),
      next_cursor: z.string().nullable().openapi({ description: "Pass as cursor for the next page; null on the last" }),
    })
    .openapi(name);

/** since must not come after until: a window the wrong way round is the caller's mistake. */
export const windowInOrder = (w: { since?: string; until?: string }) =>
  w.since === undefined || w.until === undefined || Date.parse(w.since) <= Date.parse(w.until);
