// The webhook fields of the per-endpoint policy (rate_limit, max_in_flight,
// breaker_state) on create, PATCH and GET, and rotate-secret's grace period:
// the old secret is kept for the grace only, signs next to the new one, and
// never appears in a response.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { apiHarness, assertError, webhooksPath } from "./support/api-client.ts";
import { claimDue } from "../src/db/claim.ts";
import { createDelivery } from "./support/dwctl-reference.ts";
import { forgetExpiredSecrets } from "../src/db/webhooks.ts";
import { webhookHeaders } from "../src/send/signing.ts";

const { db, api } = await apiHarness();

test("rate_limit and max_in_flight: set on create, changed and cleared by PATCH, shown by GET; out of range is a 400", async () => {
  const userId = crypto.randomUUID();
  const created = await api.call("POST", webhooksPath(userId), {
    url: "https://hooks.example.com/in",
    rate_limit: 50,
    max_in_flight: 4,
  });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(
    [created.body.rate_limit, created.body.max_in_flight, created.body.breaker_state],
    [50, 4, "closed"],
  );
  const id = created.body.id;
  const patched = await api.call("PATCH", `${webhooksPath(userId)}/${id}`, { rate_limit: null, max_in_flight: 7 });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual([patched.body.rate_limit, patched.body.max_in_flight], [null, 7]);
  const got = await api.call("GET", `${webhooksPath(userId)}/${id}`);
  assert.deepEqual([got.body.rate_limit, got.body.max_in_flight], [null, 7]);
  const plain = await api.call("POST", webhooksPath(userId), { url: "https://hooks.example.com/in" });
  assert.deepEqual([plain.body.rate_limit, plain.body.max_in_flight], [null, null]);

  for (const body of [{ rate_limit: 0 }, { rate_limit: 10_001 }, { rate_limit: 1.5 }, { max_in_flight: 0 }]) {
    assertError(await api.call("PATCH", `${webhooksPath(userId)}/${id}`, body), 400);
    assertError(await api.call("POST", webhooksPath(userId), { url: "https://hooks.example.com/in", ...body }), 400);
  }
  const doc = (await api.call("GET", "/openapi.json")).body;
  const webhook = doc.components.schemas.Webhook.properties;
  assert.ok(webhook.rate_limit && webhook.max_in_flight && webhook.breaker_state, "in the OpenAPI document");
  assert.ok(doc.components.schemas.RotateSecret.properties.grace_period_secs);
});

test("rotate-secret: during the grace both secrets sign (either verifies), the old one is in no response, and it is cleared after", async () => {
  const userId = crypto.randomUUID();
  const created = await api.call("POST", webhooksPath(userId), { url: "https://hooks.example.com/in" });
  const id = created.body.id;
  const oldSecret: string = created.body.secret;

  assertError(await api.call("POST", `${webhooksPath(userId)}/${id}/rotate-secret`, { grace_period_secs: -1 }), 400);
  assertError(
    await api.call("POST", `${webhooksPath(userId)}/${id}/rotate-secret`, { grace_period_secs: 604_801 }),
    400,
  );
  assertError(await api.call("POST", `${webhooksPath(userId)}/${id}/rotate-secret`, { grace: 5 }), 400);

  const rotated = await api.call("POST", `${webhooksPath(userId)}/${id}/rotate-secret`, { grace_period_secs: 3600 });
  assert.equal(rotated.status, 200, rotated.text);
  const newSecret: string = rotated.body.secret;
  assert.ok(!rotated.text.includes(oldSecret), "the old secret is not in the rotate response");
  for (const path of [`${webhooksPath(userId)}/${id}`, webhooksPath(userId)]) {
    assert.ok(!(await api.call("GET", path)).text.includes(oldSecret), `the old secret is not in GET ${path}`);
  }

  // The claim hands the signer both; the header carries two signatures.
  await createDelivery(db.sql, { webhookId: id, eventId: crypto.randomUUID(), eventType: "a.b", payload: {} });
  const [row] = (await claimDue(db.sql, 100, 300)).filter((r) => r.webhookId === id);
  assert.deepEqual([row.secret, row.previousSecret], [newSecret, oldSecret]);
  const ts = Math.floor(Date.now() / 1000);
  const headers = await webhookHeaders([row.secret!, row.previousSecret!], row.eventId, ts, row.payload);
  assert.match(headers["webhook-signature"], /^v1,\S+ v1,\S+$/);
  for (const secret of [newSecret, oldSecret]) {
    assert.doesNotThrow(
      () => new Webhook(secret).verify(row.payload, headers),
      "a receiver with either secret verifies",
    );
  }

  // After the grace (moved into the past here), the claim drops it and the sweep clears it.
  await db
    .sql`UPDATE webhook_endpoint_state SET previous_secret_until = now() - interval '1 second' WHERE webhook_id = ${id}`;
  await createDelivery(db.sql, { webhookId: id, eventId: crypto.randomUUID(), eventType: "a.b", payload: {} });
  const [later] = (await claimDue(db.sql, 100, 300)).filter((r) => r.webhookId === id);
  assert.equal(later.previousSecret, null);
  assert.ok((await forgetExpiredSecrets(db.sql)) >= 1);
  const [state] = await db.sql`SELECT previous_secret FROM webhook_endpoint_state WHERE webhook_id = ${id}`;
  assert.equal(state.previous_secret, null);

  // No body at all: the default grace; grace 0: the old secret signs nothing.
  const [before] = await db.sql<{ at: Date }[]>`SELECT now() AS at`;
  const defaulted = await api.raw("POST", `${webhooksPath(userId)}/${id}/rotate-secret`);
  assert.equal(defaulted.status, 200, defaulted.text);
  // The grace runs a day from the rotate's own transaction, which began after `before`.
  const [grace] = await db.sql<{ secs: number }[]>`
    SELECT extract(epoch FROM previous_secret_until - ${before.at}::timestamptz)::float8 AS secs
    FROM webhook_endpoint_state WHERE webhook_id = ${id}`;
  assert.ok(grace.secs >= 86_400 && grace.secs < 86_400 + 60, `default grace ${grace.secs}`);
  await api.call("POST", `${webhooksPath(userId)}/${id}/rotate-secret`, { grace_period_secs: 0 });
  await createDelivery(db.sql, { webhookId: id, eventId: crypto.randomUUID(), eventType: "a.b", payload: {} });
  const [none] = (await claimDue(db.sql, 100, 300)).filter((r) => r.webhookId === id);
  assert.equal(none.previousSecret, null);
});
