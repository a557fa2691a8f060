// Drives the real Hono app in-process for the API tests: createApp over a
// test database, a fixed bearer token, a fake DNS for the SSRF check, and
// every log line kept so tests can look for secrets in them.
import { after } from "node:test";
import assert from "node:assert/strict";
import { type AppDeps, createApp } from "../../src/api/app.ts";
import { createMetrics, type Metrics } from "../../src/start/metrics.ts";
import type { Sql } from "../../src/db/client.ts";
import { type TestDatabase, testDatabase } from "./database.ts";

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

/**
 * One API test file's world: a database of its own and the app over it,
 * closed by an after() hook. Made at load time, as serviceHarness is,
 * because bun's node:test ignores a hook's timeout option.
 */
export async function apiHarness(
  overrides: Partial<AppDeps> = {},
  database: { max?: number } = {},
): Promise<{ db: TestDatabase; api: ApiClient }> {
  const db = await testDatabase(database);
  after(async () => await db.close());
  return { db, api: apiClient(db.sql, overrides) };
}

/** A user's webhooks, where the API lists and creates them. */
export const webhooksPath = (userId: string) => `/admin/api/v1/users/${userId}/webhooks`;

/** Creates a webhook through the API (at hooks.example.com unless `body` says otherwise); the reply must be a 201. */
export async function postWebhook(api: ApiClient, userId: string, body: Record<string, unknown> = {}) {
  const reply = await api.call("POST", webhooksPath(userId), { url: "https://hooks.example.com/in", ...body });
  assert.equal(reply.status, 201, reply.text);
  return reply.body as Reply["body"];
}

/** A webhook's fields in the API's replies (never its secret but on create and rotate), sorted. */
export const WEBHOOK_FIELDS = [
  "breaker_state",
  "created_at",
  "description",
  "disabled_at",
  "enabled",
  "event_types",
  "id",
  "max_in_flight",
  "rate_limit",
  "scope",
  "updated_at",
  "url",
  "user_id",
];
