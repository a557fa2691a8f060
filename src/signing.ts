// Standard Webhooks (https://www.standardwebhooks.com) signing for outbound
// deliveries, plus `verify` for receivers. Uses Web Crypto only, so the same
// code runs unchanged under Bun and Deno.

const SECRET_PREFIX = "whsec_";
const encoder = new TextEncoder();

export type VerifyResult =
  | { ok: true }
  | {
    ok: false;
    reason:
      | "missing_headers"
      | "bad_timestamp"
      | "timestamp_too_old"
      | "timestamp_too_new"
      | "no_matching_signature";
  };

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

// Throws on invalid input (atob raises InvalidCharacterError).
function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export function generateSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

export async function importSigningKey(secret: string): Promise<CryptoKey> {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = fromBase64(b64);
  } catch {
    // Deliberately does not echo the secret into the message (it ends up in logs).
    throw new Error("importSigningKey: secret is not valid base64");
  }
  if (raw.length === 0) throw new Error("importSigningKey: secret is empty");
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
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
  return "v1," + toBase64(await hmac(secret, msgId, timestampSeconds, body));
}

export async function webhookHeaders(
  secret: string | CryptoKey,
  msgId: string,
  timestampSeconds: number,
  body: string,
): Promise<Record<string, string>> {
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": await sign(secret, msgId, timestampSeconds, body),
    "webhook-version": "1",
    "content-type": "application/json",
  };
}

// Examines every byte even after a mismatch, so timing does not reveal how
// long the matching prefix is. Length is not secret (always 32 for SHA-256).
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function getHeader(headers: Headers | Record<string, string>, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return v;
  }
  return undefined;
}

export async function verify(
  secret: string,
  headers: Headers | Record<string, string>,
  body: string,
  opts: { toleranceSeconds?: number; nowSeconds?: number } = {},
): Promise<VerifyResult> {
  const msgId = getHeader(headers, "webhook-id");
  const timestamp = getHeader(headers, "webhook-timestamp");
  const signatures = getHeader(headers, "webhook-signature");
  if (!msgId || !timestamp || !signatures) return { ok: false, reason: "missing_headers" };

  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: "bad_timestamp" };
  const ts = Number(timestamp);
  if (!Number.isSafeInteger(ts)) return { ok: false, reason: "bad_timestamp" };
  const tolerance = opts.toleranceSeconds ?? 300;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (now - ts > tolerance) return { ok: false, reason: "timestamp_too_old" };
  if (ts - now > tolerance) return { ok: false, reason: "timestamp_too_new" };

  const expected = await hmac(secret, msgId, ts, body);
  let matched = false;
  for (const entry of signatures.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma === -1 || entry.slice(0, comma) !== "v1") continue;
    let candidate: Uint8Array;
    try {
      candidate = fromBase64(entry.slice(comma + 1));
    } catch {
      continue; // a malformed entry is simply not a match
    }
    // No break: check every entry so timing does not depend on which one matched.
    if (timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: "no_matching_signature" };
}
