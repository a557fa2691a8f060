// Bearer-token auth for /admin/api, on Hono's bearerAuth (which compares in
// constant time, over SHA-256 digests). Every refusal, including a malformed
// Authorization header, is a 401 in our error shape.
//
//   app.use("/admin/api/*", requireToken(token));
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { errorBody } from "./errors.ts";

export function requireToken(token: string): MiddlewareHandler {
  const refuse = (message: string) => ({ message: (c: Context) => c.json(errorBody("unauthorized", message), 401) });
  return bearerAuth({
    token,
    noAuthenticationHeader: refuse("missing Authorization: Bearer <token> header"),
    invalidAuthenticationHeader: refuse("Authorization header must be Bearer <token>"),
    invalidToken: refuse("wrong API token"),
  });
}
