// OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT): a span per claim, per
// delivery attempt and per result batch, exported over OTLP/HTTP as JSON.
// Spans carry ids, event types, counts, status codes and durations: never a
// URL, a payload, a header or a secret. When the variable is unset nothing
// here is loaded (the SDK is imported dynamically) and the dispatcher wraps
// none of its effects, so the hot path pays nothing.
// Types only: erased at run time, so they load nothing.
import type { Attributes, SpanKind as Kind } from "@opentelemetry/api";
import type { ClaimedDelivery, SendResult } from "../../machines/delivery.ts";
import type { RecordedWebhook, ResultBatch } from "../../machines/result-writer.ts";
import pkg from "../../package.json" with { type: "json" };
import type { OtelTarget } from "./config.ts";
import type { Log } from "./log.ts";

export type Traces = {
  /** A claim took [startMs, endMs] and returned `count` rows (or failed). */
  claim(startMs: number, endMs: number, limit: number, outcome: { count: number } | { error: unknown }): void;
  /** One POST of one delivery. */
  attempt(startMs: number, endMs: number, delivery: ClaimedDelivery, result: SendResult): void;
  /** One batched result write. */
  resultBatch(
    startMs: number,
    endMs: number,
    batch: ResultBatch,
    outcome: { webhooks: RecordedWebhook[] } | { error: unknown },
  ): void;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
};

/** Where the spans go: the endpoint's /v1/traces, as the OTLP/HTTP spec builds a signal's URL. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

// A runtime's fetch error may quote the whole URL, and a URL may carry a token.
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi;
const withoutUrls = (text: string) => text.replace(URL_IN_TEXT, "[url]");
const messageOf = (error: unknown) => withoutUrls(error instanceof Error ? error.message : String(error));

/** How a span ended: what was learned at the end, and the error's message when it failed. */
type Ending = { attributes?: Attributes; error?: string };

/** An answer outside 2xx fails the attempt as surely as no answer does. */
function attemptEnding(result: SendResult): Ending {
  if (result.kind !== "response") return { error: withoutUrls(result.error) };
  const { statusCode } = result;
  return {
    attributes: { "http.response.status_code": statusCode },
    error: statusCode < 200 || statusCode > 299 ? `HTTP ${statusCode}` : undefined,
  };
}

export async function startTraces(target: OtelTarget | undefined, log: Log = () => {}): Promise<Traces | undefined> {
  if (!target) return undefined;
  const version = pkg.version;
  const [
    { SpanKind, SpanStatusCode },
    { BatchSpanProcessor, TracerProvider },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  // A bounded queue: spans beyond it are dropped, never buffered without end
  // while the collector is away.
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": target.serviceName, "service.version": version }),
    spanProcessors: [
      new BatchSpanProcessor({
        // Bounded in time too, so a collector that hangs cannot hold the shutdown.
        exporter: new OTLPTraceExporter({ url: tracesUrl(target.endpoint), timeoutMillis: 5000 }),
        scheduledDelayMillis: target.scheduleDelayMs,
        exportTimeoutMillis: 5000,
        maxQueueSize: 4096,
      }),
    ],
  });
  const tracer = provider.getTracer("statehook", version);
  // Only scheme, host and port: the URL may carry credentials.
  log("info", "exporting traces over OTLP/HTTP", { otlp: new URL(tracesUrl(target.endpoint)).origin });

  /** One span over [startMs, endMs]: what was known at the start, then how it ended. */
  const record = (
    name: string,
    kind: Kind,
    [startMs, endMs]: [number, number],
    attributes: Attributes,
    ending: Ending,
  ) => {
    const span = tracer.startSpan(name, { kind, startTime: startMs, attributes });
    if (ending.attributes) span.setAttributes(ending.attributes);
    if (ending.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: ending.error });
    span.end(endMs);
  };

  return {
    claim(startMs, endMs, limit, outcome) {
      record(
        "statehook.claim",
        SpanKind.INTERNAL,
        [startMs, endMs],
        { "statehook.claim.limit": limit, "db.system.name": "postgresql" },
        "count" in outcome
          ? { attributes: { "statehook.claim.count": outcome.count } }
          : { error: messageOf(outcome.error) },
      );
    },
    attempt(startMs, endMs, delivery, result) {
      record("statehook.attempt", SpanKind.CLIENT, [startMs, endMs], {
        "http.request.method": "POST",
        "statehook.webhook.id": delivery.webhookId,
        "statehook.delivery.id": delivery.id,
        "statehook.event.id": delivery.eventId,
        "statehook.event.type": delivery.eventType,
        "statehook.attempt.number": delivery.attemptCount + 1,
        "statehook.attempt.duration_ms": Math.round(result.durationMs),
      }, attemptEnding(result));
    },
    resultBatch(startMs, endMs, batch, outcome) {
      record(
        "statehook.record",
        SpanKind.INTERNAL,
        [startMs, endMs],
        {
          "statehook.batch.outcomes": batch.outcomes.length,
          "statehook.batch.released": batch.released.length,
          "db.system.name": "postgresql",
        },
        "webhooks" in outcome
          ? { attributes: { "statehook.batch.breakers_tripped": outcome.webhooks.filter((w) => w.tripped).length } }
          : { error: messageOf(outcome.error) },
      );
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}
