// Standard Webhooks (https://www.standardwebhooks.com) signing for outbound
// deliveries. Uses Web Crypto only, so the same code runs unchanged under Bun
// and Deno. Receivers verify with any Standard Webhooks library (README).

const SECRET_PREFIX = "whsec_";
const encoder = new TextEncoder();

export function generateSecret(): string {
  return SECRET_PREFIX + crypto.getRandomValues(new Uint8Array(32)).toBase64();
}

export async function importSigningKey(secret: string): Promise<CryptoKey> {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = Uint8Array.fromBase64(b64); // throws SyntaxError on invalid input
  } catch {
    // Deliberately does not echo the secret into the message (it ends up in logs).
    throw new Error("importSigningKey: secret is not valid base64");
  }
  if (raw.length === 0) throw new Error("importSigningKey: secret is empty");
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

async function hmac(secret: string | CryptoKey, msgId: string, timestampSeconds: number, body: string) {
  const key = typeof secret === "string" ? await importSigningKey(secret) : secret;
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${msgId}.${timestampSeconds}.${body}`));
  return new Uint8Array(mac);
}

export async function sign(
  secret: string | CryptoKey,
  msgId: string,
  timestampSeconds: number,
  body: string,
): Promise<string> {
  // A fractional or millisecond value would sign a string no receiver reconstructs.
  if (!Number.isSafeInteger(timestampSeconds)) {
    throw new Error(`sign: timestampSeconds must be an integer, got ${timestampSeconds}`);
  }
  return "v1," + (await hmac(secret, msgId, timestampSeconds, body)).toBase64();
}

/**
 * The Standard Webhooks headers. Several keys (a rotation's grace period:
 * the new one first, then the old) give several signatures separated by
 * spaces, so a receiver holding either secret verifies.
 */
export async function webhookHeaders(
  secret: string | CryptoKey | readonly (string | CryptoKey)[],
  msgId: string,
  timestampSeconds: number,
  body: string,
): Promise<Record<string, string>> {
  const secrets = Array.isArray(secret) ? secret : [secret as string | CryptoKey];
  const signatures = await Promise.all(secrets.map((s) => sign(s, msgId, timestampSeconds, body)));
  return standardHeaders(msgId, String(timestampSeconds), signatures.join(" "));
}

/** The Standard Webhooks header set, given each value as it is (or as it is shown: the API's redacted copy). */
export function standardHeaders(msgId: string, timestamp: string, signature: string): Record<string, string> {
  return {
    "webhook-id": msgId,
    "webhook-timestamp": timestamp,
    "webhook-signature": signature,
    "webhook-version": "1",
    "content-type": "application/json",
  };
}
