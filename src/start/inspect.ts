// Live inspection (STATEHOOK_INSPECT): streams the actor system to Stately's
// hosted inspector (`sky`) or to a WebSocket inspector (`ws://…`). Every
// event is redacted on its way out: payloads, bodies, signed headers and
// anything shaped like a secret never leave the process. When inspection is
// off nothing here is even loaded, so the hot path pays nothing.
import type { Log } from "./log.ts";
import type { InspectionEvent, Observer } from "xstate";
import type { InspectTarget } from "./config.ts";
import type { OutcomeList } from "../../machines/result-writer.ts";

export type Inspection = {
  /** Pass to createActor({ inspect }). */
  inspect: Observer<InspectionEvent>;
  /** Where to look, for the start-up log line. */
  where: string;
  stop(): void;
};

const REDACTED = "[redacted]";

/** Keys whose values are withheld wherever they appear: bodies and signed material. */
const WITHHELD_KEYS = new Set(["payload", "body", "responseBody", "response_body", "secret"]);

/**
 * Returns a plain copy of an inspection event with payloads, bodies, header
 * values and secret-looking strings replaced by "[redacted]". Actors and
 * machine snapshots serialise through their own toJSON, so the copy is
 * shallow data only.
 *
 * @example
 * redact({ delivery: { payload: '{"a":1}' }, request: { headers: { "webhook-signature": "v1,…" } } })
 * // → { delivery: { payload: "[redacted]" }, request: { headers: { "webhook-signature": "[redacted]" } } }
 */
export function redact<T>(value: T): T {
  const text = JSON.stringify(value, function (key, v) {
    if (WITHHELD_KEYS.has(key)) return v === null || v === undefined ? v : REDACTED;
    // The result writer's finished outcomes, a linked list, as a count:
    // thousands of nested nodes say nothing an inspector can show.
    if (key === "results") return { count: listLength(v as OutcomeList) };
    // Header names stay readable (webhook-id, content-type…); values do not.
    if (key === "headers" && v && typeof v === "object") {
      return Object.fromEntries(Object.keys(v).map((name) => [name, REDACTED]));
    }
    if (typeof v === "string" && v.includes("whsec_")) return REDACTED;
    return v;
  });
  return text === undefined ? value : JSON.parse(text);
}

function listLength(list: OutcomeList): number {
  let count = 0;
  for (let node = list; node; node = node.earlier) count++;
  return count;
}

type Adapter = { send(event: unknown): void };

/** Every event an inspector emits goes through its adapter: redact there, once, for both kinds. */
function redactAdapter(adapter: Adapter) {
  const send = adapter.send.bind(adapter);
  adapter.send = (event) => send(redact(event));
}

export async function startInspection(
  target: InspectTarget | undefined,
  log: Log = () => {},
): Promise<Inspection | undefined> {
  if (!target) return undefined;
  // Loaded only when asked for: the WebSocket client and its friends stay out otherwise.
  const { createSkyInspector, createWebSocketInspector } = await import("@statelyai/inspect");
  const inspector = target.kind === "sky"
    ? createSkyInspector({ onerror: (error) => log("warn", "inspector connection failed", { error: String(error) }) })
    : createWebSocketInspector({ url: target.url });
  redactAdapter(inspector.adapter as Adapter);
  // Only scheme, host and port: a URL may carry credentials.
  const where = target.kind === "sky"
    ? "stately.ai (the session link is printed when connected)"
    : new URL(target.url).origin.replace(/^http/, "ws");
  log("info", "streaming actors to the Stately inspector", { inspect: where });
  return { inspect: inspector.inspect, where, stop: () => inspector.stop() };
}
