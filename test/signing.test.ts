import { test } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { generateSecret, importSigningKey, sign, webhookHeaders } from "../src/send/signing.ts";
import { verify } from "./support/verify.ts";

// Published test vector from the Standard Webhooks spec / reference libraries.
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  msgId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

function headersFor(msgId: string, timestamp: number | string, signature: string) {
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature,
  };
}

test("sign matches the published Standard Webhooks vector", async () => {
  const { secret, msgId, timestamp, body, signature } = VECTOR;
  assert.equal(await sign(secret, msgId, timestamp, body), signature);
  // Same result with the prefix stripped and with a pre-imported key.
  assert.equal(await sign(secret.slice("whsec_".length), msgId, timestamp, body), signature);
  assert.equal(await sign(await importSigningKey(secret), msgId, timestamp, body), signature);
  const ok = await verify(secret, headersFor(msgId, timestamp, signature), body, { nowSeconds: timestamp });
  assert.deepEqual(ok, { ok: true });
});

test("round trip with the official standardwebhooks package", async () => {
  const secret = generateSecret();
  const wh = new Webhook(secret);
  const body = JSON.stringify({ event: "order.created", id: 42 });
  const ts = nowSeconds();

  const ours = await webhookHeaders(secret, "msg_ours", ts, body);
  assert.deepEqual(wh.verify(body, ours), { event: "order.created", id: 42 });

  const theirs = wh.sign("msg_theirs", new Date(ts * 1000), body);
  assert.equal(theirs, await sign(secret, "msg_theirs", ts, body));
  assert.deepEqual(await verify(secret, headersFor("msg_theirs", ts, theirs), body), { ok: true });
});

test("generateSecret has the whsec_ prefix, 32 random bytes, and differs per call", () => {
  const a = generateSecret();
  const b = generateSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  assert.equal(atob(a.slice("whsec_".length)).length, 32);
  assert.notEqual(a, b);
});

test("importSigningKey rejects non-base64 secrets with a clear error", async () => {
  await assert.rejects(importSigningKey("whsec_not*base64!"), /not valid base64/);
  await assert.rejects(importSigningKey("whsec_"), /empty/);
});

test("verify rejects tampering, wrong secret, stale/future timestamps and bad headers", async () => {
  const secret = generateSecret();
  const body = '{"a":1}';
  const ts = nowSeconds();
  const sig = await sign(secret, "msg_1", ts, body);
  const h = headersFor("msg_1", ts, sig);

  assert.deepEqual(await verify(secret, h, body), { ok: true });
  assert.deepEqual(await verify(secret, h, '{"a":2}'), { ok: false, reason: "no_matching_signature" });
  assert.deepEqual(await verify(generateSecret(), h, body), { ok: false, reason: "no_matching_signature" });

  // Tolerance is 300 s each way; 301 s off is out, whatever the signature.
  const old = ts - 301;
  assert.deepEqual(
    await verify(secret, headersFor("msg_1", old, await sign(secret, "msg_1", old, body)), body, { nowSeconds: ts }),
    { ok: false, reason: "timestamp_too_old" },
  );
  const future = ts + 301;
  assert.deepEqual(
    await verify(secret, headersFor("msg_1", future, await sign(secret, "msg_1", future, body)), body, {
      nowSeconds: ts,
    }),
    { ok: false, reason: "timestamp_too_new" },
  );
  // Exactly at the edge is still accepted.
  const edge = ts - 300;
  assert.deepEqual(
    await verify(secret, headersFor("msg_1", edge, await sign(secret, "msg_1", edge, body)), body, { nowSeconds: ts }),
    { ok: true },
  );

  assert.deepEqual(await verify(secret, { "webhook-id": "msg_1", "webhook-timestamp": String(ts) }, body), {
    ok: false,
    reason: "missing_headers",
  });
  assert.deepEqual(await verify(secret, {}, body), { ok: false, reason: "missing_headers" });
  assert.deepEqual(await verify(secret, headersFor("msg_1", "soon", sig), body), {
    ok: false,
    reason: "bad_timestamp",
  });
  assert.deepEqual(await verify(secret, headersFor("msg_1", "12abc", sig), body), {
    ok: false,
    reason: "bad_timestamp",
  });
});

test("verify accepts a matching v1 among several signatures and skips other versions", async () => {
  const secret = generateSecret();
  const body = "{}";
  const ts = nowSeconds();
  const sig = await sign(secret, "msg_2", ts, body);
  const b64 = sig.slice("v1,".length);
  const otherV1 = await sign(generateSecret(), "msg_2", ts, body);

  const several = `${otherV1} v1,not*base64 ${sig}`;
  assert.deepEqual(await verify(secret, headersFor("msg_2", ts, several), body), { ok: true });

  // Right bytes under the wrong version must not count.
  assert.deepEqual(await verify(secret, headersFor("msg_2", ts, `v2,${b64}`), body), {
    ok: false,
    reason: "no_matching_signature",
  });
  assert.deepEqual(await verify(secret, headersFor("msg_2", ts, `v2,${b64} ${otherV1}`), body), {
    ok: false,
    reason: "no_matching_signature",
  });
});

test("verify looks headers up case-insensitively (plain objects and Headers)", async () => {
  const secret = generateSecret();
  const body = "{}";
  const ts = nowSeconds();
  const sig = await sign(secret, "msg_3", ts, body);
  const mixed = { "Webhook-Id": "msg_3", "WEBHOOK-TIMESTAMP": String(ts), "Webhook-Signature": sig };
  assert.deepEqual(await verify(secret, mixed, body), { ok: true });
  assert.deepEqual(await verify(secret, new Headers(mixed), body), { ok: true });
});

test("webhookHeaders returns exactly the five Standard Webhooks headers", async () => {
  const { secret, msgId, timestamp, body, signature } = VECTOR;
  assert.deepEqual(await webhookHeaders(secret, msgId, timestamp, body), {
    "webhook-id": msgId,
    "webhook-timestamp": "1614265330",
    "webhook-signature": signature,
    "webhook-version": "1",
    "content-type": "application/json",
  });
});

test("sign refuses a non-integer timestamp", async () => {
  await assert.rejects(sign(VECTOR.secret, "msg_4", Date.now() / 1000, "{}"), /integer/);
});
