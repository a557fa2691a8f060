// Drives the real Hono app in-process for the API tests: createApp over a
// test database, a fixed bearer token, a fake DNS for the SSRF check, and
// every log line kept so tests can look for secrets in them.
import assert from "node:assert/strict";
import { type AppDeps, createApp } from "../../src/api/app.ts";
import { createMetrics, type Metrics } from "../../src/start/metrics.ts";
import type { Sql } from "../../src/db/client.ts";

export const TOKEN = "test-token-0123456789abcdef";

/** Names the fake resolver knows; every other name does not resolve. */
export const FAKE_DNS: Record<string, string[]> = {
  "hooks.example.com": ["93.184.216.34"],
  "internal.example.com": ["10.1.2.3"],
  "metadata.example.com": ["169.254.169.254"],
  "mixed.example.com": ["93.184.216.34", "192.168.1.10"],
  "v6-loopback.example.com": ["::1"],
};

// deno-lint-ignore no-explicit-any -- JSON replies, read field by field in assertions
export type Reply = { status: number; body: any; text: string; headers: Headers };

/** The reply is an error in the API's shape: this status, a code, a message, and `code` if given. */
export function assertError(reply: Reply, status: number, code?: string) {
  assert.equal(reply.status, status, reply.text);
  assert.equal(typeof reply.body?.error?.message, "string", reply.text);
  assert.ok(reply.body.error.message.length > 0);
  assert.equal(typeof reply.body.error.code, "string");
  if (code) assert.equal(reply.body.error.code, code, reply.text);
}

export type ApiClient = {
  app: ReturnType<typeof createApp>;
  metrics: Metrics;
  logs: string[];
  reenabled: string[];
  queued: { count: number };
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** A raw request: the body is sent as given. */
  raw(
    method: string,
    path: string,
    init?: { body?: string | Uint8Array; headers?: Record<string, string> },
  ): Promise<Reply>;
};

export function apiClient(sql: Sql, overrides: Partial<AppDeps> = {}): ApiClient {
  const logs: string[] = [];
  const reenabled: string[] = [];
  const queued = { count: 0 };
  const metrics = overrides.metrics ?? createMetrics();
  const app = createApp({
    sql,
    metrics,
    dispatcherRunning: () => true,
    apiToken: TOKEN,
    allowPrivateTargets: false,
    resolve: async (host) => {
      const found = FAKE_DNS[host];
      if (!found) throw new Error(`ENOTFOUND ${host}`);
      return found;
    },
    log: (level, msg, fields) => logs.push(JSON.stringify({ level, msg, ...fields })),
    onWebhookReenabled: (id) => reenabled.push(id),
    onDeliveriesQueued: () => queued.count++,
    ...overrides,
  });
  const raw: ApiClient["raw"] = async (method, path, init = {}) => {
    const response = await app.request(path, {
      method,
      body: init.body as BodyInit | undefined,
      headers: { authorization: `Bearer ${TOKEN}`, ...init.headers },
    });
    const text = await response.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text, headers: response.headers };
  };
  return {
    app,
    metrics,
    logs,
    reenabled,
    queued,
    raw,
    call: (method, path, body, headers = {}) =>
      raw(method, path, {
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      }),
  };
}
