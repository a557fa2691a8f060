// A deadline on receiving a request's body. A client that sends its headers
// and then trickles, or stops short of its Content-Length, would otherwise
// hold the handler (and under Bun the connection, until the idle timeout)
// for as long as it likes: here the body must be in within `ms` of the
// headers, or the request is answered 408 with `Connection: close`.
// Unlike hono/timeout this bounds only the read, not the handler: a publish
// whose body has arrived is never cut off while its insert may still commit.
//
//   app.use("/admin/api/*", bodyDeadline(10_000));
import type { Context, MiddlewareHandler } from "hono";
import { errorBody } from "./errors.ts";

export function bodyDeadline(ms: number): MiddlewareHandler {
  return async (c, next) => {
    const source = c.req.raw.body;
    if (!source) return await next();
    let expired = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reader = source.getReader();
    // The handler reads this stream; at the deadline it errors, so whatever
    // is waiting on the body (bodyLimit, the JSON validator) stops waiting.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        timer = setTimeout(() => {
          expired = true;
          controller.error(new Error(`request body not received within ${ms} ms`));
          reader.cancel().catch(() => {});
        }, ms);
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            clearTimeout(timer);
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          if (!expired) controller.error(error);
        }
      },
      cancel(reason) {
        clearTimeout(timer);
        return reader.cancel(reason);
      },
    });
    // Built from the parts rather than from c.req.raw, whose signal Deno warns
    // about touching; nothing here listens to the signal of a body request.
    const { url, method, headers } = c.req.raw;
    c.req.raw = new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
    try {
      await next();
    } finally {
      clearTimeout(timer);
    }
    // Whatever the handler made of the cut-off body (a 400 for malformed
    // JSON, most likely), the truth is that it did not arrive in time.
    if (expired) {
      // Hono copies the old response's headers onto the new one; its length is not ours.
      c.res.headers.delete("content-length");
      c.res = timedOut(c, ms);
    }
  };
}

function timedOut(c: Context, ms: number): Response {
  return c.json(
    errorBody(
      "request_timeout",
      `the request body did not arrive within ${ms} ms of its headers (STATEHOOK_REQUEST_TIMEOUT_MS)`,
    ),
    408,
    { connection: "close" },
  );
}
