// The keyring: signing keys by webhook id, fed by claims, dropped for idle endpoints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createKeyring } from "../src/send/keyring.ts";
import { generateSecret, sign } from "../src/send/signing.ts";

const signWith = async (key: CryptoKey) => await sign(key, "msg_1", 1_700_000_000, "{}");

test("keyring: a claim's secret becomes the key, a rotated secret replaces it, a forgotten one is gone until the next claim", async () => {
  const keyring = createKeyring();
  const [first, second] = [generateSecret(), generateSecret()];
  await assert.rejects(keyring.key("w1"), /no signing key for webhook w1/);

  keyring.remember("w1", first);
  const firstKey = await keyring.key("w1");
  keyring.remember("w1", first);
  assert.equal(await keyring.key("w1"), firstKey, "the same secret is imported once");

  keyring.remember("w1", second);
  const secondKey = await keyring.key("w1");
  assert.notEqual(await signWith(secondKey), await signWith(firstKey), "a rotation signs with the new secret");

  keyring.forget("w1");
  await assert.rejects(keyring.key("w1"), /no signing key for webhook w1/);
  keyring.remember("w1", second);
  assert.equal(await signWith(await keyring.key("w1")), await signWith(secondKey), "the next claim brings it back");
});
