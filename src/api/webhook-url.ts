// A webhook's target URL as the API takes it and stores it. The WHATWG
// parser (which fetch uses) quietly drops tabs and newlines and trims
// control characters, so `https://h/ok\r\nX-Evil: 1` would be stored as given
// yet sent somewhere else: such input is refused outright, and what is stored
// is the parsed, normalised form, the URL that will actually be requested.
// Whether that URL may be reached at all is src/send/target-guard.ts's call.
import { text } from "./schemas.ts";

export const MAX_URL_LENGTH = 2048;

export const WebhookUrl = text(MAX_URL_LENGTH).openapi({
  example: "https://example.com/hooks/statehook",
  description: "Stored normalised (as `new URL(url).href`); white space and control characters are refused",
});

// C0 controls and space, DEL, C1 controls, and any other Unicode white space.
// deno-lint-ignore no-control-regex -- control characters are what this refuses
const UNSAFE = /[\u0000-\u0020\u007f-\u009f]|\s/;

export type NormalisedUrl = { ok: true; url: string } | { ok: false; code: "invalid_url"; message: string };

/** `HTTPS://Example.COM:443/a/../b` → `https://example.com/b`; refused if it has white space or does not parse. */
export function normaliseUrl(given: string): NormalisedUrl {
  const refuse = (message: string) => ({ ok: false, code: "invalid_url", message }) as const;
  // Messages never echo the URL: it may carry a token.
  if (UNSAFE.test(given)) return refuse("url must not contain white space or control characters");
  let url: string;
  try {
    url = new URL(given).href;
  } catch {
    return refuse("url is not a valid absolute URL");
  }
  if (url.length > MAX_URL_LENGTH) return refuse(`url is longer than ${MAX_URL_LENGTH} characters once normalised`);
  return { ok: true, url };
}
