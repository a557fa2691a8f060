// A receiver's check of a Standard Webhooks signature, as the tests use it:
// the tolerance window, several space-separated signatures, and a constant-time
// comparison (crypto.subtle.verify). Receivers in the field use the
// `standardwebhooks` package (README); test/signing.test.ts proves both agree.
import { importSigningKey } from "../../src/send/signing.ts";

export type VerifyResult =
  | { ok: true }
  | {
    ok: false;
    reason: "missing_headers" | "bad_timestamp" | "timestamp_too_old" | "timestamp_too_new" | "no_matching_signature";
  };

function header(headers: Headers | Record<string, string>, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  return Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined; // a malformed entry is simply not a match
  }
}

export async function verify(
  secret: string,
  headers: Headers | Record<string, string>,
  body: string,
  opts: { toleranceSeconds?: number; nowSeconds?: number } = {},
): Promise<VerifyResult> {
  const msgId = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!msgId || !timestamp || !signatures) return { ok: false, reason: "missing_headers" };

  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(Number(timestamp))) {
    return { ok: false, reason: "bad_timestamp" };
  }
  const ts = Number(timestamp);
  const tolerance = opts.toleranceSeconds ?? 300;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (now - ts > tolerance) return { ok: false, reason: "timestamp_too_old" };
  if (ts - now > tolerance) return { ok: false, reason: "timestamp_too_new" };

  const key = await importSigningKey(secret);
  const signed = new TextEncoder().encode(`${msgId}.${ts}.${body}`);
  let matched = false;
  // No early exit: every entry is checked, so timing does not tell which one matched.
  for (const entry of signatures.split(" ")) {
    const [version, value] = entry.split(",", 2);
    const candidate = version === "v1" && value !== undefined ? decodeBase64(value) : undefined;
    if (candidate && (await crypto.subtle.verify("HMAC", key, candidate, signed))) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: "no_matching_signature" };
}
