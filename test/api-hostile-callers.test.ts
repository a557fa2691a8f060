// The API against callers who push: a cap on webhooks per user that holds
// under concurrent creates, a bound on what one publish may write, platform
// webhooks only where the operator allows them, deliveries scoped to their
// user, URLs stored normalised and refused with control characters, a body
// that never finishes arriving, and methods no route serves. The last two go
// through the runtime's real server over raw TCP, since fetch will not send them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../src/start/runtime.ts";
import {
  type ApiClient,
  apiClient,
  apiHarness,
  assertError,
  postWebhook,
  TOKEN,
  webhooksPath,
} from "./support/api-client.ts";
import { rawRequest } from "./support/raw-http.ts";
import { runtime } from "./support/service.ts";

const { db, api } = await apiHarness({}, { max: 20 });

const URL_OK = "https://hooks.example.com/in";

async function countWebhooks(userId: string): Promise<number> {
  const [{ n }] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM user_webhooks WHERE user_id = ${userId}`;
  return n;
}

/** `count` webhooks for the user, written straight to the table (as dwctl, or an earlier version, would have). */
async function insertWebhooks(userId: string, count: number, scope = "own"): Promise<string[]> {
  const rows = await db.sql<{ id: string }[]>`
    INSERT INTO user_webhooks (user_id, url, secret, scope)
    SELECT ${userId}, 'https://hooks.example.com/' || g, 'whsec_dGVzdA==', ${scope}
    FROM generate_series(1, ${count}) g
    RETURNING id`;
  return rows.map((r) => r.id);
}

// --- webhooks per user -------------------------------------------------------

test("a user's webhooks are capped: one more is a 409 naming the limit; others and deletes free room", async () => {
  const capped = apiClient(db.sql, { maxWebhooksPerUser: 3 });
  const userId = crypto.randomUUID();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const reply = await capped.call("POST", webhooksPath(userId), { url: `${URL_OK}/${i}` });
    assert.equal(reply.status, 201, reply.text);
    ids.push(reply.body.id);
  }
  const refused = await capped.call("POST", webhooksPath(userId), { url: URL_OK });
  assertError(refused, 409, "webhook_limit_reached");
  assert.match(refused.body.error.message, /\b3\b.*STATEHOOK_MAX_WEBHOOKS_PER_USER/);
  assert.equal(await countWebhooks(userId), 3);

  const other = await capped.call("POST", webhooksPath(crypto.randomUUID()), { url: URL_OK });
  assert.equal(other.status, 201, "the cap is per user");

  assert.equal((await capped.call("DELETE", `${webhooksPath(userId)}/${ids[0]}`)).status, 204);
  assert.equal((await capped.call("POST", webhooksPath(userId), { url: URL_OK })).status, 201, "a delete frees room");
});

test("the cap holds under concurrent creates", async () => {
  const capped = apiClient(db.sql, { maxWebhooksPerUser: 5 });
  for (let round = 0; round < 3; round++) {
    const userId = crypto.randomUUID();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => capped.call("POST", webhooksPath(userId), { url: `${URL_OK}/${i}` })),
    );
    const statuses = replies.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 5, `round ${round}: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 409).length, 15, `round ${round}: ${statuses}`);
    assert.equal(await countWebhooks(userId), 5);
  }
});

test("the default cap is 100 webhooks, counting rows written around the API", async () => {
  const userId = crypto.randomUUID();
  await insertWebhooks(userId, 99);
  assert.equal((await api.call("POST", webhooksPath(userId), { url: URL_OK })).status, 201);
  const refused = await api.call("POST", webhooksPath(userId), { url: URL_OK });
  assertError(refused, 409, "webhook_limit_reached");
  assert.match(refused.body.error.message, /\b100\b/);
  assert.equal(await countWebhooks(userId), 100);
});

// --- what one publish may write ---------------------------------------------

test("a publish whose payload × matching webhooks exceeds the bound is a 413 naming the numbers, and writes nothing", async () => {
  const bounded = apiClient(db.sql, { maxPublishBytes: 10_000 });
  const userId = crypto.randomUUID();
  const webhookIds = await insertWebhooks(userId, 3);
  const before = bounded.queued.count;
  const refused = await bounded.call("POST", "/admin/api/v1/events", {
    event_type: "batch.completed",
    user_id: userId,
    data: { blob: "x".repeat(4000) },
  });
  assertError(refused, 413, "publish_too_large");
  const message: string = refused.body.error.message;
  const numbers = /(\d+) webhooks × (\d+) payload bytes = (\d+) bytes, more than STATEHOOK_MAX_PUBLISH_BYTES \((\d+)\)/
    .exec(message);
  assert.ok(numbers, message);
  const [, webhooks, payloadBytes, total, limit] = numbers.map(Number);
  assert.equal(webhooks, 3);
  assert.ok(payloadBytes > 4000 && payloadBytes < 4200, message);
  assert.equal(total, webhooks * payloadBytes);
  assert.equal(limit, 10_000);
  const [{ n }] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = ANY(${webhookIds}::uuid[])`;
  assert.equal(n, 0, "nothing written");
  assert.equal(bounded.queued.count, before, "and the dispatcher not woken");

  const fits = await bounded.call("POST", "/admin/api/v1/events", {
    event_type: "batch.completed",
    user_id: userId,
    data: { blob: "x".repeat(3000) },
  });
  assert.equal(fits.status, 202, fits.text);
  assert.equal(fits.body.deliveries.length, 3);
});

test("by default one publish may write 16 MiB: 20 webhooks × 900 KB is refused", async () => {
  const userId = crypto.randomUUID();
  await insertWebhooks(userId, 20);
  const data = { blob: "x".repeat(900_000) };
  const refused = await api.call("POST", "/admin/api/v1/events", {
    event_type: "batch.completed",
    user_id: userId,
    data,
  });
  assertError(refused, 413, "publish_too_large");
  assert.match(refused.body.error.message, /^this publish would write 20 webhooks × \d+ payload bytes/);
  assert.match(refused.body.error.message, /\(16777216\)$/);
});

// --- platform webhooks ---------------------------------------------------------

test("scope platform is a 403 unless the operator allows it; PATCH cannot switch to it", async () => {
  const userId = crypto.randomUUID();
  const refused = await api.call("POST", webhooksPath(userId), { url: URL_OK, scope: "platform" });
  assertError(refused, 403, "platform_webhooks_disabled");
  assert.match(refused.body.error.message, /STATEHOOK_ALLOW_PLATFORM_WEBHOOKS=true/);
  assert.equal(await countWebhooks(userId), 0);

  const own = await api.call("POST", webhooksPath(userId), { url: URL_OK, scope: "own" });
  assert.equal(own.status, 201, "scope own is always fine");
  assertError(await api.call("PATCH", `${webhooksPath(userId)}/${own.body.id}`, { scope: "platform" }), 400);
  assert.equal((await api.call("GET", `${webhooksPath(userId)}/${own.body.id}`)).body.scope, "own");

  const allowed = apiClient(db.sql, { allowPlatformWebhooks: true });
  const created = await allowed.call("POST", webhooksPath(userId), { url: URL_OK, scope: "platform" });
  try {
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.scope, "platform");
  } finally {
    await db.sql`DELETE FROM user_webhooks WHERE scope = 'platform'`;
  }
});

test("platform webhooks already in the database (dwctl's) keep receiving every user's events", async () => {
  const [platformId] = await insertWebhooks(crypto.randomUUID(), 1, "platform");
  try {
    const published = await api.call("POST", "/admin/api/v1/events", {
      event_type: "batch.completed",
      user_id: crypto.randomUUID(),
      data: {},
    });
    assert.equal(published.status, 202, published.text);
    assert.deepEqual(published.body.deliveries.map((d: { webhook_id: string }) => d.webhook_id), [platformId]);
  } finally {
    await db.sql`DELETE FROM user_webhooks WHERE id = ${platformId}`;
  }
});

// --- deliveries, scoped to their user ---------------------------------------------

test("user-scoped delivery routes answer 404 for another user's delivery; the global ones stay", async () => {
  const alice = crypto.randomUUID();
  const bob = crypto.randomUUID();
  const [aliceHook] = await insertWebhooks(alice, 1);
  const [bobHook] = await insertWebhooks(bob, 1);
  const publish = async (userId: string) => {
    const reply = await api.call("POST", "/admin/api/v1/events", {
      event_type: "batch.completed",
      user_id: userId,
      data: { for: userId },
    });
    assert.equal(reply.status, 202, reply.text);
    return reply.body.deliveries[0].id as string;
  };
  const aliceDelivery = await publish(alice);
  const bobDelivery = await publish(bob);

  const own = await api.call("GET", `/admin/api/v1/users/${alice}/deliveries/${aliceDelivery}`);
  assert.equal(own.status, 200, own.text);
  assert.equal(own.body.webhook_id, aliceHook);
  assert.deepEqual(own.body.payload.data, { for: alice });

  const foreign = await api.call("GET", `/admin/api/v1/users/${alice}/deliveries/${bobDelivery}`);
  assertError(foreign, 404, "not_found");
  assert.ok(!foreign.text.includes(bob), "nothing of bob's leaks");
  const global = await api.call("GET", `/admin/api/v1/deliveries/${bobDelivery}`);
  assert.equal(global.status, 200, "dwctl's path still reaches any delivery");
  assert.equal(global.body.webhook_id, bobHook);

  await db.sql`UPDATE webhook_deliveries SET status = 'failed' WHERE id IN (${aliceDelivery}, ${bobDelivery})`;
  assertError(await api.call("POST", `/admin/api/v1/users/${alice}/deliveries/${bobDelivery}/retry`), 404, "not_found");
  const [{ status }] = await db.sql<
    { status: string }[]
  >`SELECT status FROM webhook_deliveries WHERE id = ${bobDelivery}`;
  assert.equal(status, "failed", "another user's delivery is left alone");
  const retried = await api.call("POST", `/admin/api/v1/users/${alice}/deliveries/${aliceDelivery}/retry`);
  assert.equal(retried.status, 202, retried.text);
  assert.equal(retried.body.status, "pending");
  assert.equal((await api.call("POST", `/admin/api/v1/deliveries/${bobDelivery}/retry`)).status, 202);
});

// --- URLs ------------------------------------------------------------------------

const unsafeUrls: [string, string][] = [
  ["CR LF and a header", "https://hooks.example.com/ok\r\nX-Evil: 1"],
  ["a bare LF", "https://hooks.example.com/ok\nx"],
  ["a tab", "https://hooks.example.com/o\tk"],
  ["a space", "https://hooks.example.com/a b"],
  ["a leading space", " https://hooks.example.com/ok"],
  ["a no-break space", "https://hooks.example.com/a\u00a0b"],
  ["a line separator", "https://hooks.example.com/a\u2028b"],
  ["a C1 control", "https://hooks.example.com/a\u0085b"],
  ["DEL", "https://hooks.example.com/a\u007fb"],
  ["an escape", "https://hooks.example.com/a\u001bb"],
];

for (const [name, url] of unsafeUrls) {
  test(`a URL with ${name} is a 400, on create and on PATCH`, async () => {
    const userId = crypto.randomUUID();
    const refused = await api.call("POST", webhooksPath(userId), { url });
    assertError(refused, 400, "invalid_url");
    assert.match(refused.body.error.message, /white space or control characters/);
    assert.equal(await countWebhooks(userId), 0);
    const created = await postWebhook(api, userId, { url: URL_OK });
    assertError(await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, { url }), 400, "invalid_url");
    assert.equal((await api.call("GET", `${webhooksPath(userId)}/${created.id}`)).body.url, URL_OK);
  });
}

test("the URL is stored parsed and normalised, the one fetch will request", async () => {
  const userId = crypto.randomUUID();
  const cases: [string, string][] = [
    ["HTTPS://Hooks.Example.COM:443/a/../b?x=1#top", "https://hooks.example.com/b?x=1#top"],
    ["https://hooks.example.com", "https://hooks.example.com/"],
    ["https://bücher.example/x", "https://xn--bcher-kva.example/x"],
    ["https://hooks.example.com/ä", "https://hooks.example.com/%C3%A4"],
  ];
  for (const [given, stored] of cases) {
    const created = await api.call("POST", webhooksPath(userId), { url: given });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.url, stored);
    const [row] = await db.sql<{ url: string }[]>`SELECT url FROM user_webhooks WHERE id = ${created.body.id}`;
    assert.equal(row.url, stored);
    const patched = await api.call("PATCH", `${webhooksPath(userId)}/${created.body.id}`, { url: given.toUpperCase() });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.url, new URL(given.toUpperCase()).href);
  }
});

// --- over raw TCP, through the runtime's own server -----------------------------------------

/** The app served by this runtime (Bun.serve or Deno.serve) on 127.0.0.1, for the length of `body`. */
async function withServer(client: ApiClient, body: (port: number) => Promise<void>) {
  const server = serve(client.app.fetch, { hostname: "127.0.0.1", port: 0 });
  try {
    await body(server.port);
  } finally {
    await server.stop();
  }
}

const TIMEOUT_MS = 1000;
/** Far longer than TIMEOUT_MS, far shorter than the runtimes' own 60 s (Bun) or none (Deno). */
const BOUND_MS = 15_000;

function post(path: string, headers: string, body: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
    `Content-Type: application/json\r\n${headers}\r\n${body}`;
}

test("a body that stops short of its Content-Length is answered 408 once the request timeout passes", async () => {
  const slow = apiClient(db.sql, { requestTimeoutMs: TIMEOUT_MS });
  await withServer(slow, async (port) => {
    const userId = crypto.randomUUID();
    const result = await rawRequest(
      port,
      post(webhooksPath(userId), "Content-Length: 100\r\n", '{"url": "h'),
      BOUND_MS,
    );
    assert.ok(!result.gaveUp, `no answer and no close within ${BOUND_MS} ms: ${JSON.stringify(result.received)}`);
    assert.ok(result.response, `closed without an answer: ${JSON.stringify(result.received)}`);
    assert.equal(result.response.status, 408, result.received);
    assert.equal(JSON.parse(result.response.body).error.code, "request_timeout");
    assert.match(JSON.parse(result.response.body).error.message, /1000 ms.*STATEHOOK_REQUEST_TIMEOUT_MS/);
    assert.equal(result.response.headers["connection"], "close");
    assert.equal(await countWebhooks(userId), 0);
  });
});

test("a chunked body that stalls is answered 408 too", async () => {
  const slow = apiClient(db.sql, { requestTimeoutMs: TIMEOUT_MS });
  await withServer(slow, async (port) => {
    const result = await rawRequest(
      port,
      post("/admin/api/v1/events", "Transfer-Encoding: chunked\r\n", '5\r\n{"eve\r\n'),
      BOUND_MS,
    );
    assert.ok(!result.gaveUp, `no answer and no close within ${BOUND_MS} ms: ${JSON.stringify(result.received)}`);
    assert.ok(result.response, `closed without an answer: ${JSON.stringify(result.received)}`);
    assert.equal(result.response.status, 408, result.received);
  });
});

test("a body that arrives in time is served as usual", async () => {
  const slow = apiClient(db.sql, { requestTimeoutMs: TIMEOUT_MS });
  await withServer(slow, async (port) => {
    const userId = crypto.randomUUID();
    const body = JSON.stringify({ url: URL_OK });
    const result = await rawRequest(
      port,
      post(webhooksPath(userId), `Content-Length: ${body.length}\r\n`, body),
      BOUND_MS,
    );
    assert.equal(result.response?.status, 201, result.received);
    assert.equal(await countWebhooks(userId), 1);
  });
});

test("a method no route serves is a 405 (Deno); Bun closes the connection before the app sees it", async () => {
  await withServer(api, async (port) => {
    for (const method of ["FOO", "get"]) {
      const result = await rawRequest(port, `${method} /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, BOUND_MS);
      assert.ok(!result.gaveUp, `${method}: ${JSON.stringify(result.received)}`);
      if (runtime === "bun") {
        // Bun's parser knows a fixed list of methods and drops the rest (oven-sh/bun#6556).
        assert.equal(result.received, "", `${method}: Bun answered after all; update README and this test`);
        assert.ok(result.closed);
      } else {
        assert.equal(result.response?.status, 405, `${method}: ${result.received}`);
        assert.equal(result.response.headers["allow"], "GET, HEAD");
        assert.equal(JSON.parse(result.response.body).error.code, "method_not_allowed");
      }
    }
  });
  // The same answer for a method Bun does know, in-process (Bun's Request turns FOO into GET).
  const put = await api.raw("PUT", "/healthz");
  assertError(put, 405, "method_not_allowed");
  assert.equal(put.headers.get("allow"), "GET, HEAD");
});
