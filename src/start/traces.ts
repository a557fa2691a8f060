// OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT): a span per claim, per
// delivery attempt and per result batch, exported over OTLP/HTTP as JSON.
// Spans carry ids, event types, counts, status codes and durations: never a
// URL, a payload, a header or a secret. When the variable is unset nothing
// here is loaded (the SDK is imported dynamically) and the dispatcher wraps
// none of its effects, so the hot path pays nothing.
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

  const failed = (span: ReturnType<typeof tracer.startSpan>, message: string) =>
    span.setStatus({ code: SpanStatusCode.ERROR, message });

  return {
    claim(startMs, endMs, limit, outcome) {
      const span = tracer.startSpan("statehook.claim", {
        kind: SpanKind.INTERNAL,
        startTime: startMs,
        attributes: { "statehook.claim.limit": limit, "db.system.name": "postgresql" },
      });
      if ("count" in outcome) span.setAttribute("statehook.claim.count", outcome.count);
      else failed(span, messageOf(outcome.error));
      span.end(endMs);
    },
    attempt(startMs, endMs, delivery, result) {
      const span = tracer.startSpan("statehook.attempt", {
        kind: SpanKind.CLIENT,
        startTime: startMs,
        attributes: {
          "http.request.method": "POST",
          "statehook.webhook.id": delivery.webhookId,
          "statehook.delivery.id": delivery.id,
          "statehook.event.id": delivery.eventId,
          "statehook.event.type": delivery.eventType,
          "statehook.attempt.number": delivery.attemptCount + 1,
          "statehook.attempt.duration_ms": Math.round(result.durationMs),
        },
      });
      if (result.kind === "response") {
        span.setAttribute("http.response.status_code", result.statusCode);
        if (result.statusCode < 200 || result.statusCode > 299) failed(span, `HTTP ${result.statusCode}`);
      } else {
        failed(span, withoutUrls(result.error));
      }
      span.end(endMs);
    },
    resultBatch(startMs, endMs, batch, outcome) {
      const span = tracer.startSpan("statehook.record", {
        kind: SpanKind.INTERNAL,
        startTime: startMs,
        attributes: {
          "statehook.batch.outcomes": batch.outcomes.length,
          "statehook.batch.released": batch.released.length,
          "db.system.name": "postgresql",
        },
      });
      if ("webhooks" in outcome) {
        span.setAttribute("statehook.batch.breakers_tripped", outcome.webhooks.filter((w) => w.tripped).length);
      } else {
        failed(span, messageOf(outcome.error));
      }
      span.end(endMs);
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}
