// A receiver's Retry-After header (RFC 9110 §10.2.3) as seconds from now:
// either delay-seconds or an HTTP date. Anything else is no answer, so a
// malformed header falls back to the retry schedule.

/** Seconds to wait, or undefined when the header is missing or unreadable. */
export function retryAfterSeconds(header: string | null, nowMs: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  // An HTTP date names its day of the week; Date.parse alone takes far looser text.
  if (!/^[A-Za-z]{3},? /.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}
