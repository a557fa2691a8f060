// The caller-facing limits reach the running service from its environment:
// the service process, not only createApp, enforces the per-user webhook cap,
// the platform-scope switch and the per-publish write bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serviceHarness } from "./support/harness.ts";

const TOKEN = "service-limits-token-0123456789";
const { db, start } = await serviceHarness();

const service = await start({
  env: {
    DATABASE_URL: db.url,
    STATEHOOK_API_TOKEN: TOKEN,
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_MAX_WEBHOOKS_PER_USER: "2",
    STATEHOOK_ALLOW_PLATFORM_WEBHOOKS: "true",
    STATEHOOK_MAX_PUBLISH_BYTES: "2000",
  },
});

const api = (path: string, body: unknown) =>
  fetch(`${service.url}/admin/api/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

test("the service enforces the limits its environment sets", async () => {
  const user = crypto.randomUUID();
  const create = (scope: string) => api(`/users/${user}/webhooks`, { url: "http://127.0.0.1:9/hook", scope });

  assert.equal((await create("platform")).status, 201, "STATEHOOK_ALLOW_PLATFORM_WEBHOOKS=true allows platform scope");
  assert.equal((await create("own")).status, 201);
  const third = await create("own");
  assert.equal(third.status, 409, "STATEHOOK_MAX_WEBHOOKS_PER_USER=2 refuses a third");
  assert.match((await third.json()).error.message, /\b2\b/);

  const big = await api("/events", { event_type: "x.y", user_id: user, data: { pad: "a".repeat(1500) } });
  assert.equal(big.status, 413, "two webhooks × 1.5 kB is over STATEHOOK_MAX_PUBLISH_BYTES=2000");
  const small = await api("/events", { event_type: "x.y", user_id: user, data: { pad: "a" } });
  assert.equal(small.status, 202);
});
