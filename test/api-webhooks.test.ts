// The webhook management API (dwctl's paths and fields) through the real Hono
// app: every route's happy path, every kind of bad input as a 4xx in the
// error shape, another user's webhook as a 404, the SSRF refusals, and the
// secret appearing only in the create and rotate responses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { apiClient, apiHarness, assertError, postWebhook, WEBHOOK_FIELDS, webhooksPath } from "./support/api-client.ts";

const { db, api } = await apiHarness();

test("create returns 201 with dwctl's fields and a whsec_ secret", async () => {
  const userId = crypto.randomUUID();
  const reply = await api.call("POST", webhooksPath(userId), {
    url: "https://hooks.example.com/in",
    event_types: ["batch.completed", "batch.failed"],
    description: "billing",
  });
  assert.equal(reply.status, 201, reply.text);
  assert.deepEqual(Object.keys(reply.body).sort(), [...WEBHOOK_FIELDS, "secret"].sort());
  assert.match(reply.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(reply.body.user_id, userId);
  assert.equal(reply.body.url, "https://hooks.example.com/in");
  assert.equal(reply.body.enabled, true);
  assert.deepEqual(reply.body.event_types, ["batch.completed", "batch.failed"]);
  assert.equal(reply.body.description, "billing");
  assert.equal(reply.body.scope, "own");
  assert.equal(reply.body.disabled_at, null);
  assert.ok(!Number.isNaN(Date.parse(reply.body.created_at)));
  const [row] = await db.sql<{ secret: string }[]>`SELECT secret FROM user_webhooks WHERE id = ${reply.body.id}`;
  assert.equal(row.secret, reply.body.secret);
});

test("create accepts the platform scope (where allowed), null event types and http://localhost and 127.0.0.1 shapes", async () => {
  const userId = crypto.randomUUID();
  const platform = await apiClient(db.sql, { allowPlatformWebhooks: true }).call("POST", webhooksPath(userId), {
    url: "https://hooks.example.com/in",
    scope: "platform",
    event_types: null,
  });
  assert.equal(platform.status, 201, platform.text);
  assert.equal(platform.body.scope, "platform");
  assert.equal(platform.body.event_types, null);
  // The shape rule allows these; with private targets off they are then refused as loopback.
  for (const url of ["http://localhost:9000/x", "http://127.0.0.1:9000/x"]) {
    const reply = await api.call("POST", webhooksPath(userId), { url });
    assertError(reply, 400, "private_target");
  }
  const open = apiClient(db.sql, { allowPrivateTargets: true });
  for (const url of ["http://localhost:9000/x", "http://127.0.0.1:9000/x"]) {
    const reply = await open.call("POST", webhooksPath(userId), { url });
    assert.equal(reply.status, 201, reply.text);
  }
});

test("a name that does not resolve at create time is accepted", async () => {
  const created = await postWebhook(api, crypto.randomUUID(), { url: "https://not-in-dns.example.org/hook" });
  assert.equal(created.url, "https://not-in-dns.example.org/hook");
});

test("list returns the user's webhooks newest first, without secrets", async () => {
  const userId = crypto.randomUUID();
  const first = await postWebhook(api, userId, { description: "first" });
  const second = await postWebhook(api, userId, { description: "second" });
  await postWebhook(api, crypto.randomUUID(), { description: "someone else's" });
  const reply = await api.call("GET", webhooksPath(userId));
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body.map((w: { id: string }) => w.id), [second.id, first.id]);
  for (const w of reply.body) assert.deepEqual(Object.keys(w).sort(), WEBHOOK_FIELDS);
  assert.ok(!reply.text.includes(first.secret) && !reply.text.includes(second.secret));
  assert.deepEqual((await api.call("GET", webhooksPath(crypto.randomUUID()))).body, []);
});

test("get returns one webhook without its secret", async () => {
  const userId = crypto.randomUUID();
  const created = await postWebhook(api, userId);
  const reply = await api.call("GET", `${webhooksPath(userId)}/${created.id}`);
  assert.equal(reply.status, 200);
  assert.deepEqual(Object.keys(reply.body).sort(), WEBHOOK_FIELDS);
  assert.equal(reply.body.id, created.id);
  assert.ok(!reply.text.includes(created.secret));
  assert.ok(!reply.text.includes("whsec_"));
});

test("patch updates url, event types (null clears), description and enabled", async () => {
  const userId = crypto.randomUUID();
  const created = await postWebhook(api, userId, { event_types: ["batch.completed"], description: "old" });
  let reply = await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, {
    url: "https://hooks.example.com/new",
    event_types: ["batch.failed"],
    description: "new",
  });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.body.url, "https://hooks.example.com/new");
  assert.deepEqual(reply.body.event_types, ["batch.failed"]);
  assert.equal(reply.body.description, "new");
  assert.ok(!reply.text.includes("whsec_"));

  reply = await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, { event_types: null, description: null });
  assert.equal(reply.body.event_types, null);
  assert.equal(reply.body.description, null);
  assert.equal(reply.body.url, "https://hooks.example.com/new", "fields not sent are kept");

  reply = await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, { enabled: false });
  assert.equal(reply.body.enabled, false);
  reply = await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, {});
  assert.equal(reply.status, 200);
  assert.equal(reply.body.enabled, false);
});

test("patch enabled: true clears disabled_at and the failure counter and tells the dispatcher", async () => {
  const userId = crypto.randomUUID();
  const created = await postWebhook(api, userId);
  await db
    .sql`UPDATE user_webhooks SET enabled = false, disabled_at = now(), consecutive_failures = 10 WHERE id = ${created.id}`;
  const disabled = await api.call("GET", `${webhooksPath(userId)}/${created.id}`);
  assert.equal(disabled.body.enabled, false);
  assert.ok(disabled.body.disabled_at);
  const before = api.reenabled.length;
  const reply = await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, { enabled: true });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.enabled, true);
  assert.equal(reply.body.disabled_at, null);
  const [row] = await db.sql<
    { consecutive_failures: number }[]
  >`SELECT consecutive_failures FROM user_webhooks WHERE id = ${created.id}`;
  assert.equal(row.consecutive_failures, 0);
  assert.deepEqual(api.reenabled.slice(before), [created.id]);
  await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, { enabled: false });
  assert.equal(api.reenabled.length, before + 1, "disabling is not a re-enable");
});

test("rotate-secret returns a new secret, stores it, and the old one is gone", async () => {
  const userId = crypto.randomUUID();
  const created = await postWebhook(api, userId);
  const reply = await api.call("POST", `${webhooksPath(userId)}/${created.id}/rotate-secret`);
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(Object.keys(reply.body).sort(), [...WEBHOOK_FIELDS, "secret"].sort());
  assert.match(reply.body.secret, /^whsec_/);
  assert.notEqual(reply.body.secret, created.secret);
  const [row] = await db.sql<{ secret: string }[]>`SELECT secret FROM user_webhooks WHERE id = ${created.id}`;
  assert.equal(row.secret, reply.body.secret);
});

test("delete returns 204, cascades the deliveries, and a second delete is a 404", async () => {
  const userId = crypto.randomUUID();
  const created = await postWebhook(api, userId);
  await db.sql`INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload)
    VALUES (${created.id}, gen_random_uuid(), 'batch.completed', '{}')`;
  const reply = await api.call("DELETE", `${webhooksPath(userId)}/${created.id}`);
  assert.equal(reply.status, 204);
  assert.equal(reply.text, "");
  const [{ count }] = await db.sql<
    { count: number }[]
  >`SELECT count(*)::int AS count FROM webhook_deliveries WHERE webhook_id = ${created.id}`;
  assert.equal(count, 0);
  assertError(await api.call("DELETE", `${webhooksPath(userId)}/${created.id}`), 404, "not_found");
});

test("another user's webhook is a 404 on every route, and is left untouched", async () => {
  const owner = crypto.randomUUID();
  const stranger = crypto.randomUUID();
  const created = await postWebhook(api, owner, { description: "mine" });
  const path = `${webhooksPath(stranger)}/${created.id}`;
  const replies = [
    await api.call("GET", path),
    await api.call("PATCH", path, { description: "stolen" }),
    await api.call("POST", `${path}/rotate-secret`),
    await api.call("GET", `${path}/deliveries`),
    await api.call("DELETE", path),
  ];
  for (const reply of replies) {
    assertError(reply, 404, "not_found");
    assert.ok(!reply.text.includes("mine"));
  }
  const [row] = await db.sql<
    { description: string; secret: string }[]
  >`SELECT description, secret FROM user_webhooks WHERE id = ${created.id}`;
  assert.equal(row.description, "mine");
  assert.equal(row.secret, created.secret);
});

// Each row: a body for POST …/webhooks that must be refused with a 400.
const badCreateBodies: [string, unknown, string?][] = [
  ["missing url", {}],
  ["url not a string", { url: 42 }],
  ["url null", { url: null }],
  ["url not absolute", { url: "/relative/path" }, "invalid_url"],
  ["url garbage", { url: "not a url" }, "invalid_url"],
  ["url ftp scheme", { url: "ftp://example.com/x" }, "scheme_not_allowed"],
  ["url javascript scheme", { url: "javascript:alert(1)" }, "scheme_not_allowed"],
  ["url http to a public host", { url: "http://hooks.example.com/x" }, "scheme_not_allowed"],
  ["url http to localhost lookalike", { url: "http://localhost.evil.example/x" }, "scheme_not_allowed"],
  ["url with credentials", { url: "https://user:pass@hooks.example.com/x" }, "invalid_url"],
  ["url too long", { url: `https://hooks.example.com/${"a".repeat(3000)}` }],
  ["url with NUL", { url: "https://hooks.example.com/\u0000" }],
  ["scope unknown", { url: "https://hooks.example.com/x", scope: "global" }],
  ["scope wrong type", { url: "https://hooks.example.com/x", scope: 1 }],
  ["event_types a string", { url: "https://hooks.example.com/x", event_types: "batch.completed" }],
  ["event_types empty list", { url: "https://hooks.example.com/x", event_types: [] }],
  ["event_types with a number", { url: "https://hooks.example.com/x", event_types: [1] }],
  ["event_types without a dot", { url: "https://hooks.example.com/x", event_types: ["batch"] }],
  ["event_types with a space", { url: "https://hooks.example.com/x", event_types: ["batch. completed"] }],
  ["event_types trailing dot", { url: "https://hooks.example.com/x", event_types: ["batch."] }],
  ["description wrong type", { url: "https://hooks.example.com/x", description: ["x"] }],
  ["description too long", { url: "https://hooks.example.com/x", description: "d".repeat(1001) }],
  ["description with NUL", { url: "https://hooks.example.com/x", description: "a\u0000b" }],
  ["unknown field", { url: "https://hooks.example.com/x", secret: "whsec_mine" }],
  ["body is an array", [{ url: "https://hooks.example.com/x" }]],
  ["body is a string", "https://hooks.example.com/x"],
  ["body is null", null],
];

for (const [name, body, code] of badCreateBodies) {
  test(`create refuses ${name} with a 400`, async () => {
    const userId = crypto.randomUUID();
    assertError(await api.call("POST", webhooksPath(userId), body), 400, code);
    assert.deepEqual((await api.call("GET", webhooksPath(userId))).body, [], "nothing was created");
  });
}

// SSRF: with private targets off, every notation of a non-public address is refused.
const privateUrls = [
  "https://127.0.0.1/x",
  "https://10.0.0.5/x",
  "https://172.16.3.4/x",
  "https://192.168.1.1/x",
  "https://169.254.169.254/latest/meta-data",
  "https://100.64.0.1/x",
  "https://0.0.0.0/x",
  "https://2130706433/x", // 127.0.0.1 as one decimal number
  "https://0x7f.0.0.1/x", // hex octet
  "https://0177.0.0.1/x", // octal octet
  "https://127.1/x", // short form
  "https://[::1]/x",
  "https://[::ffff:127.0.0.1]/x",
  "https://[::ffff:a9fe:a9fe]/x", // metadata, IPv4-mapped
  "https://[fd00:ec2::254]/x", // AWS metadata over IPv6
  "https://[fe80::1]/x",
  "https://[fc00::1]/x",
  "https://localhost/x",
  "https://api.localhost/x",
  "https://internal.example.com/x", // resolves to 10.1.2.3
  "https://metadata.example.com/x", // resolves to 169.254.169.254
  "https://mixed.example.com/x", // one public and one private address
  "https://v6-loopback.example.com/x", // resolves to ::1
];

for (const url of privateUrls) {
  test(`SSRF: create and patch refuse ${url}`, async () => {
    const userId = crypto.randomUUID();
    const reply = await api.call("POST", webhooksPath(userId), { url });
    assertError(reply, 400, "private_target");
    assert.ok(!reply.text.includes("/latest/meta-data"), "the message does not echo the URL's path");
    const created = await postWebhook(api, userId);
    assertError(await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, { url }), 400, "private_target");
    const [row] = await db.sql<{ url: string }[]>`SELECT url FROM user_webhooks WHERE id = ${created.id}`;
    assert.equal(row.url, "https://hooks.example.com/in");
  });
}

test("SSRF: a public literal and a name that resolves publicly are accepted", async () => {
  const userId = crypto.randomUUID();
  for (const url of ["https://93.184.216.34/x", "https://[2606:4700::1111]/x", "https://hooks.example.com/x"]) {
    assert.equal((await api.call("POST", webhooksPath(userId), { url })).status, 201, url);
  }
});

const badPatchBodies: [string, unknown][] = [
  ["url null", { url: null }],
  ["url wrong type", { url: 1 }],
  ["url bad scheme", { url: "gopher://x" }],
  ["enabled a string", { enabled: "true" }],
  ["enabled null", { enabled: null }],
  ["event_types bad shape", { event_types: ["nodot"] }],
  ["event_types object", { event_types: { a: "b.c" } }],
  ["description number", { description: 5 }],
  ["scope (not patchable)", { scope: "platform" }],
  ["unknown field", { enable: true }],
  ["body an array", []],
  ["body a number", 7],
];

for (const [name, body] of badPatchBodies) {
  test(`patch refuses ${name} with a 400 and changes nothing`, async () => {
    const userId = crypto.randomUUID();
    const created = await postWebhook(api, userId, { description: "kept" });
    assertError(await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, body), 400);
    const reply = await api.call("GET", `${webhooksPath(userId)}/${created.id}`);
    assert.equal(reply.body.description, "kept");
    assert.equal(reply.body.enabled, true);
    assert.equal(reply.body.scope, "own");
  });
}

const badIds = [
  "not-a-uuid",
  "123",
  "00000000-0000-0000-0000-00000000000g",
  "00000000000000000000000000000000",
  "%27%20OR%201%3D1",
];

test("a user_id or webhook_id that is not a UUID is a 400 on every route", async () => {
  const userId = crypto.randomUUID();
  const created = await postWebhook(api, userId);
  let cases = 0;
  for (const bad of badIds) {
    for (
      const [method, path, body] of [
        ["GET", webhooksPath(bad)],
        ["POST", webhooksPath(bad), { url: "https://hooks.example.com/x" }],
        ["GET", `${webhooksPath(userId)}/${bad}`],
        ["GET", `${webhooksPath(bad)}/${created.id}`],
        ["PATCH", `${webhooksPath(userId)}/${bad}`, { description: "x" }],
        ["DELETE", `${webhooksPath(userId)}/${bad}`],
        ["POST", `${webhooksPath(userId)}/${bad}/rotate-secret`],
        ["GET", `${webhooksPath(userId)}/${bad}/deliveries`],
      ] as [string, string, unknown?][]
    ) {
      const reply = await api.call(method, path, body);
      assertError(reply, 400, "invalid_request");
      assert.match(reply.body.error.message, /must be a UUID/);
      cases++;
    }
  }
  assert.equal(cases, badIds.length * 8);
});

test("malformed JSON is a 400 invalid_json", async () => {
  const userId = crypto.randomUUID();
  for (const body of ["{", '{"url": "https://hooks.example.com/x",}', "nul", "{'url': 1}", "\u0000"]) {
    const reply = await api.raw("POST", webhooksPath(userId), {
      body,
      headers: { "content-type": "application/json" },
    });
    assertError(reply, 400, "invalid_json");
  }
  const created = await postWebhook(api, userId);
  const reply = await api.raw("PATCH", `${webhooksPath(userId)}/${created.id}`, {
    body: "{]",
    headers: { "content-type": "application/json" },
  });
  assertError(reply, 400, "invalid_json");
});

test("a body that is not JSON is a 415; no body at all is a 400", async () => {
  const userId = crypto.randomUUID();
  const form = await api.raw("POST", webhooksPath(userId), {
    body: "url=https://x",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assertError(form, 415, "unsupported_media_type");
  const plain = await api.raw("POST", webhooksPath(userId), {
    body: '{"url":"https://hooks.example.com/x"}',
    headers: { "content-type": "text/plain" },
  });
  assertError(plain, 415, "unsupported_media_type");
  assertError(await api.raw("POST", webhooksPath(userId)), 400, "invalid_request");
});

test("a body over the limit is a 413", async () => {
  const small = apiClient(db.sql, { maxBodyBytes: 2048 });
  const userId = crypto.randomUUID();
  const reply = await small.call("POST", webhooksPath(userId), {
    url: "https://hooks.example.com/x",
    description: "d".repeat(4000),
  });
  assertError(reply, 413, "payload_too_large");
  const big = await api.call("POST", "/admin/api/v1/events", {
    event_type: "a.b",
    data: { blob: "x".repeat(1024 * 1024) },
  });
  assertError(big, 413, "payload_too_large");
});

test("every /admin/api route needs the bearer token: 401 JSON without it or with a wrong one", async () => {
  const userId = crypto.randomUUID();
  const created = await postWebhook(api, userId);
  const routes: [string, string][] = [
    ["GET", webhooksPath(userId)],
    ["POST", webhooksPath(userId)],
    ["GET", `${webhooksPath(userId)}/${created.id}`],
    ["PATCH", `${webhooksPath(userId)}/${created.id}`],
    ["DELETE", `${webhooksPath(userId)}/${created.id}`],
    ["POST", `${webhooksPath(userId)}/${created.id}/rotate-secret`],
    ["GET", `${webhooksPath(userId)}/${created.id}/deliveries`],
    ["POST", "/admin/api/v1/events"],
    ["GET", `/admin/api/v1/deliveries/${crypto.randomUUID()}`],
    ["POST", `/admin/api/v1/deliveries/${crypto.randomUUID()}/retry`],
    ["GET", "/admin/api/v1/no-such-route"],
  ];
  const headerCases: Record<string, string>[] = [
    {},
    { authorization: "" },
    { authorization: "Bearer wrong-token-0123456789" },
    { authorization: "Bearer " },
    { authorization: "Basic dXNlcjpwYXNz" },
    { authorization: "test-token-0123456789abcdef" },
    { authorization: "Bearer test-token-0123456789abcdeX" },
    { authorization: "Bearer test-token-0123456789abcdef extra" },
  ];
  for (const [method, path] of routes) {
    for (const headers of headerCases) {
      const response = await api.app.request(path, { method, headers });
      const body = await response.json();
      assert.equal(response.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
      assert.equal(body.error.code, "unauthorized");
      assert.ok(body.error.message);
    }
  }
  const [row] = await db.sql<{ secret: string }[]>`SELECT secret FROM user_webhooks WHERE id = ${created.id}`;
  assert.equal(row.secret, created.secret, "nothing happened without the token");
});

test("health, metrics, openapi.json and docs need no token", async () => {
  for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]) {
    const response = await api.app.request(path);
    assert.equal(response.status, 200, path);
    await response.body?.cancel();
  }
});

test("unknown routes are a 404 in the error shape, other methods on known ones a 405", async () => {
  for (const path of ["/nope", "/admin/api/v2/users", "/admin/api/v1/users", "/admin/api/v1/endpoints"]) {
    const reply = await api.call("GET", path);
    assertError(reply, 404, "not_found");
  }
  // A path that exists, with a method it does not serve, names the ones it does.
  const put = await api.call("PUT", `${webhooksPath(crypto.randomUUID())}`);
  assertError(put, 405, "method_not_allowed");
  assert.equal(put.headers.get("allow"), "GET, HEAD, POST");
});

test("each request logs one JSON line with method, route, status and duration, and echoes a request id", async () => {
  const userId = crypto.randomUUID();
  api.logs.length = 0;
  const reply = await api.call("GET", webhooksPath(userId), undefined, { "x-request-id": "trace-abc-123" });
  assert.equal(reply.headers.get("x-request-id"), "trace-abc-123");
  const made = await api.call("GET", webhooksPath(userId));
  assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  const lines = api.logs.map((line) => JSON.parse(line));
  assert.equal(lines.length, 2);
  assert.deepEqual(
    { method: lines[0].method, route: lines[0].route, status: lines[0].status, request_id: lines[0].request_id },
    { method: "GET", route: "/admin/api/v1/users/:user_id/webhooks", status: 200, request_id: "trace-abc-123" },
  );
  assert.equal(typeof lines[0].duration_ms, "number");
  assert.ok(!lines[0].route.includes(userId), "ids stay out of the log");
});

test("no response other than create and rotate, and no log line, contains a secret", async () => {
  const userId = crypto.randomUUID();
  api.logs.length = 0;
  const created = await postWebhook(api, userId);
  const rotated = (await api.call("POST", `${webhooksPath(userId)}/${created.id}/rotate-secret`)).body;
  const secrets = [created.secret, rotated.secret];
  await api.call("POST", "/admin/api/v1/events", { event_type: "batch.completed", data: {}, user_id: userId });
  const replies = [
    await api.call("GET", webhooksPath(userId)),
    await api.call("GET", `${webhooksPath(userId)}/${created.id}`),
    await api.call("PATCH", `${webhooksPath(userId)}/${created.id}`, { description: "x" }),
    await api.call("GET", `${webhooksPath(userId)}/${created.id}/deliveries`),
    await api.call("GET", "/openapi.json"),
    await api.call("GET", "/metrics"),
  ];
  const listing = replies[3].body.data;
  replies.push(await api.call("GET", `/admin/api/v1/deliveries/${listing[0].id}`));
  for (const reply of replies) {
    for (const secret of secrets) assert.ok(!reply.text.includes(secret), `secret in ${reply.text.slice(0, 80)}`);
    if (!reply.text.startsWith('{"openapi"')) assert.ok(!reply.text.includes("whsec_"), reply.text.slice(0, 80));
  }
  for (const line of api.logs) {
    for (const secret of [...secrets, "test-token-0123456789abcdef"]) assert.ok(!line.includes(secret), line);
  }
});
