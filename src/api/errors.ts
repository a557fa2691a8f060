// Errors a caller can cause, as values at the edge: every 4xx is JSON
// `{"error": {"code", "message"}}`. The validation hook turns zod issues into
// that shape, and `errorResponse` does the same for the HTTPExceptions Hono's
// own middleware throws (malformed JSON, body too large, wrong media type).
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string().openapi({ example: "url: expected string, received number" }),
    }),
  })
  .openapi("Error");

export type ApiError = z.infer<typeof ErrorSchema>;

export function errorBody(code: string, message: string): ApiError {
  return { error: { code, message } };
}

/** `return apiError(c, 404, "not_found", "no webhook …")` */
export function apiError<S extends ContentfulStatusCode>(c: Context, status: S, code: string, message: string) {
  return c.json(errorBody(code, message), status);
}

/** For OpenAPI route definitions: one documented error response. */
export const errorResponse = (description: string) => ({
  content: { "application/json": { schema: ErrorSchema } },
  description,
});

type Issue = { path: PropertyKey[]; message: string };

/** "body.url: Invalid input; params.user_id: must be a UUID" — short, and never echoes the input. */
export function describeIssues(target: string, issues: readonly Issue[]): string {
  const shown = issues.slice(0, 5).map((issue) => {
    const path = [target, ...issue.path.map(String)].join(".");
    return `${path}: ${issue.message}`;
  });
  if (issues.length > shown.length) shown.push(`and ${issues.length - shown.length} more`);
  return shown.join("; ");
}

const TARGET_NAMES: Record<string, string> = { json: "body", param: "path", query: "query", header: "header" };

/** The hook every OpenAPIHono of ours validates with. */
export function validationHook(
  result: { success: true } | { success: false; error: { issues: readonly Issue[] }; target?: string },
  c: Context,
) {
  if (result.success) return;
  const target = TARGET_NAMES[result.target ?? ""] ?? "request";
  return apiError(c, 400, "invalid_request", describeIssues(target, result.error.issues));
}

const CODES: Partial<Record<number, string>> = {
  400: "invalid_json",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

/** The app's onError: HTTPExceptions become our error shape; anything else is a bug, so a 500. */
export function handleError(error: unknown, c: Context, report: (error: unknown) => void): Response {
  if (error instanceof HTTPException) {
    if (error.res && error.res.headers.get("content-type")?.startsWith("application/json")) return error.res;
    const status = error.status as ContentfulStatusCode;
    const code = CODES[status] ?? (status < 500 ? "bad_request" : "internal");
    return apiError(c, status, code, error.message || code.replaceAll("_", " "));
  }
  report(error);
  return apiError(c, 500, "internal", "internal error");
}
