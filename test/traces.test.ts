// OpenTelemetry traces from the real service, run by the test's own runtime:
// a plain HTTP server on 127.0.0.1 stands in for the collector and takes
// OTLP/JSON on POST /v1/traces. Each attempt, claim and result batch must
// arrive as a span with its ids, type, attempt number, status and duration,
// and no payload, secret or target URL anywhere. Without the variable the
// SDK is never imported.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createWebhook } from "../src/db/webhooks.ts";
import { ConfigError, loadConfig } from "../src/start/config.ts";
import { startTraces, tracesUrl } from "../src/start/traces.ts";
import { createDelivery } from "./support/dwctl-reference.ts";
import { assertConfigRefused } from "./support/config-refusal.ts";
import { serviceHarness } from "./support/harness.ts";
import { ROOT, until } from "./support/service.ts";

type Attribute = { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } };
type Span = {
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attribute[];
  status?: { code?: number; message?: string };
};
type Export = { contentType: string; path: string; text: string };

const exports: Export[] = [];
let collector: Server;
let collectorUrl: string;

before(async () => {
  collector = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      exports.push({ contentType: String(req.headers["content-type"]), path: req.url ?? "", text });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});
after(async () => {
  collector.closeAllConnections?.();
  await new Promise<void>((resolve) => collector.close(() => resolve()));
});

const world = await serviceHarness({
  handler: (req, res) => {
    res.statusCode = req.path.includes("/failing") ? 503 : 200;
    res.end("thanks");
  },
});

function spans(): Span[] {
  return exports.flatMap((e) =>
    (JSON.parse(e.text).resourceSpans ?? []).flatMap((r: { scopeSpans: { spans: Span[] }[] }) =>
      r.scopeSpans.flatMap((s) => s.spans)
    )
  );
}

function attrs(span: Span): Record<string, string | number | boolean | undefined> {
  return Object.fromEntries(
    span.attributes.map((a) => [
      a.key,
      a.value.stringValue ?? (a.value.intValue === undefined ? a.value.boolValue : Number(a.value.intValue)),
    ]),
  );
}

test("the service exports a span per attempt, claim and result batch as OTLP/JSON, with nothing secret", async () => {
  const marker = `payload-marker-${crypto.randomUUID()}`;
  const { db, receiver } = world;
  const ok = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/ok?token=url-secret` });
  const failing = await createWebhook(db.sql, { userId: crypto.randomUUID(), url: `${receiver.url}/failing` });
  const service = await world.start({
    env: {
      DATABASE_URL: db.url,
      STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
      STATEHOOK_RETRY_SCHEDULE: "0,0,3600",
      OTEL_EXPORTER_OTLP_ENDPOINT: `${collectorUrl}/`,
      OTEL_BSP_SCHEDULE_DELAY: "100",
    },
  });
  const deliveryIds: string[] = [];
  for (const webhook of [ok.webhook, ok.webhook, failing.webhook]) {
    const row = await createDelivery(db.sql, {
      webhookId: webhook.id,
      eventId: crypto.randomUUID(),
      eventType: "batch.completed",
      payload: { type: "batch.completed", timestamp: new Date().toISOString(), data: { marker } },
    });
    deliveryIds.push(row.id);
  }
  // Two attempts of the failing one (the schedule retries it at once), one of each other.
  const attemptsOf = (id: string) =>
    spans().filter((s) => s.name === "statehook.attempt" && attrs(s)["statehook.delivery.id"] === id);
  await until(
    () => attemptsOf(deliveryIds[0]).length === 1 && attemptsOf(deliveryIds[2]).length === 2,
    20_000,
    "the attempt spans",
  );
  await until(() => spans().some((s) => s.name === "statehook.record"), 20_000, "a result-batch span");
  await service.stop();

  for (const e of exports) {
    assert.equal(e.path, "/v1/traces", "the endpoint's /v1/traces, once, whatever its trailing slash");
    assert.match(e.contentType, /^application\/json/);
  }
  const delivered = attrs(attemptsOf(deliveryIds[0])[0]);
  assert.equal(delivered["statehook.webhook.id"], ok.webhook.id);
  assert.equal(delivered["statehook.event.type"], "batch.completed");
  assert.equal(delivered["statehook.attempt.number"], 1);
  assert.equal(delivered["http.response.status_code"], 200);
  assert.equal(typeof delivered["statehook.attempt.duration_ms"], "number");
  const span = attemptsOf(deliveryIds[0])[0];
  assert.ok(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano));
  assert.notEqual(span.status?.code, 2, "not an error");
  const failures = attemptsOf(deliveryIds[2]);
  assert.deepEqual(failures.map((f) => attrs(f)["statehook.attempt.number"]).sort(), [1, 2]);
  for (const f of failures) {
    assert.equal(attrs(f)["http.response.status_code"], 503);
    assert.equal(f.status?.code, 2, "an error span");
    assert.equal(attrs(f)["statehook.webhook.id"], failing.webhook.id);
  }
  const claims = spans().filter((s) => s.name === "statehook.claim").map(attrs);
  assert.ok(claims.length > 0);
  assert.ok(claims.some((c) => Number(c["statehook.claim.count"]) >= 1), "a claim that returned rows");
  const recorded = spans().filter((s) => s.name === "statehook.record").map(attrs);
  const outcomes = recorded.reduce((n, r) => n + Number(r["statehook.batch.outcomes"]), 0);
  assert.ok(outcomes >= 4, `${outcomes} outcomes recorded in batches`);

  const everything = exports.map((e) => e.text).join("\n");
  for (const secret of [ok.secret, failing.secret, marker, "url-secret", receiver.url, "whsec_"]) {
    assert.ok(!everything.includes(secret), `no ${secret.slice(0, 16)}… in the spans`);
  }
  assert.ok(
    service.logs.some((l) => l.msg === "exporting traces over OTLP/HTTP" && l.otlp === collectorUrl),
    "the start-up line names the collector's origin",
  );
});

test("without OTEL_EXPORTER_OTLP_ENDPOINT no traces start, and no module imports the SDK statically", async () => {
  const config = loadConfig({});
  assert.equal(config.otel, undefined);
  assert.equal(await startTraces(config.otel), undefined);
  // The SDK is imported with import() in src/start/traces.ts only.
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (path.endsWith(".ts")) files.push(path);
    }
  };
  await walk(join(ROOT, "src"));
  await walk(join(ROOT, "machines"));
  for (const file of files) {
    const text = await readFile(file, "utf8");
    const statics = [...text.matchAll(/^import\s+(?!type\b)[^;]*from\s+"(@opentelemetry\/[^"]+)"/gm)];
    assert.deepEqual(statics.map((m) => m[1]), [], `${file} imports OpenTelemetry at load`);
  }
});

test("OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, and is never echoed back", () => {
  for (const bad of ["collector:4318", "ftp://collector", "http://user:pw@[bad", "https://c.example/?key=secret"]) {
    assertConfigRefused("OTEL_EXPORTER_OTLP_ENDPOINT", bad, (error) => assert.ok(!error.message.includes(bad)));
  }
  assert.throws(
    () => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_BSP_SCHEDULE_DELAY: "soon" }),
    ConfigError,
  );
  const otel = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://c.example:4318/otlp/", OTEL_SERVICE_NAME: "hooks" })
    .otel!;
  assert.deepEqual({ ...otel, endpoint: tracesUrl(otel.endpoint) }, {
    endpoint: "https://c.example:4318/otlp/v1/traces",
    serviceName: "hooks",
    scheduleDelayMs: 5000,
  });
});
