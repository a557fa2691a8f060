// GET /admin/api/v1/live: the live view's server-sent events. Each viewer
// gets an `event: snapshot` at once and then at most one per interval, and
// only when something changed, however busy the dispatcher is: the
// snapshot is read from the actor system when due, never pushed per event.
// A `: ping` comment every 15 s keeps proxies from closing a quiet stream.
// Bearer auth as on every /admin/api route, so the page reads it with
// fetch() and a stream reader (EventSource cannot send the header).
import type { OpenAPIHono } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { LiveFeed } from "../start/live-feed.ts";
import { apiError } from "./errors.ts";
import { security } from "./router.ts";

export type LiveOptions = {
  feed: LiveFeed;
  /** The shortest gap between two snapshots to one viewer. */
  intervalMs: number;
  /** Defaults to 15 s. */
  pingMs?: number;
};

export const PATH = "/admin/api/v1/live";
const PING_MS = 15_000;

export function mountLive(app: OpenAPIHono, live: LiveOptions | undefined): void {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: PATH,
    operationId: "streamLive",
    tags: ["operations"],
    security,
    summary: "Server-sent events: a snapshot of the actor system, at most one per interval",
    description: "`event: snapshot` with `data:` " +
      '{"at", "machines": {"dispatcher": {"state", "in_flight"}, "result-writer": {"state", "unwritten"}, ' +
      '"delivery": {state: count}, "webhook": {state: count}}, ' +
      '"webhooks": {id: {"state", "paused", "consecutive_failures", "in_flight", "sent_per_sec", "last_status_code"}}, ' +
      '"totals": {"delivered", "failed", "exhausted"}}; `: ping` comments every 15 s.',
    responses: {
      200: { description: "The event stream", content: { "text/event-stream": { schema: { type: "string" } } } },
      401: { description: "Missing or wrong bearer token" },
      503: { description: "No dispatcher runs in this process" },
    },
  });

  app.get(PATH, (c) => {
    if (!live) return apiError(c, 503, "unavailable", "no dispatcher runs in this process");
    const pingMs = live.pingMs ?? PING_MS;
    return streamSSE(c, async (stream) => {
      const watch = live.feed.watch();
      let wake = () => {};
      stream.onAbort(() => wake());
      try {
        let sent = "";
        let lastPing = Date.now();
        while (!stream.aborted && !stream.closed) {
          const snapshot = await watch.snapshot();
          // From after the build, so two snapshots' `at` are a whole interval apart.
          const due = Date.now() + live.intervalMs;
          const { at: _, ...content } = snapshot;
          const text = JSON.stringify(content);
          if (text !== sent) {
            sent = text;
            await stream.writeSSE({ event: "snapshot", data: JSON.stringify(snapshot) });
          }
          if (Date.now() - lastPing >= pingMs) {
            lastPing = Date.now();
            await stream.write(": ping\n\n");
          }
          // Until the next snapshot is due by the clock (a timer may fire a
          // little early), or at once when the viewer leaves.
          while (Date.now() < due && !stream.aborted) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, due - Date.now());
              wake = () => (clearTimeout(timer), resolve());
            });
          }
        }
      } finally {
        watch.stop();
      }
    });
  });
}
