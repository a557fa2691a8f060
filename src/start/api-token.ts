// The admin API's bearer token: STATEHOOK_API_TOKEN when set; otherwise the
// one kept in the data directory, so restarts keep it; otherwise a new one,
// written there (mode 0600) and announced once, on the first start only.
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

export type ApiToken = { token: string; source: "environment" | "file" | "generated"; path?: string };

export const TOKEN_FILE = "api-token";

/** RFC 6750's token68: the charset a Bearer header can carry. */
export const TOKEN68 = /^[A-Za-z0-9._~+\/-]+=*$/;
export const TOKEN68_CHARS = "A-Z a-z 0-9 . _ ~ + / -";

/** 32 random bytes as base64url: fits a Bearer header (token68). */
export function generateApiToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return "sht_" + bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function keptToken(path: string, text: string): ApiToken {
  if (!TOKEN68.test(text)) throw new Error(`${path} does not hold a usable API token (${TOKEN68_CHARS})`);
  return { token: text, source: "file", path };
}

export async function loadApiToken(configured: string | undefined, dataDir: string): Promise<ApiToken> {
  if (configured) return { token: configured, source: "environment" };
  const path = join(dataDir, TOKEN_FILE);
  const kept = (await readFile(path, "utf8").catch(() => "")).trim();
  if (kept) return keptToken(path, kept);
  await mkdir(dataDir, { recursive: true });
  const token = generateApiToken();
  // Written whole to a private file, then linked into place: link() fails if
  // the name exists, so when replicas sharing the directory race, one token
  // wins and the others read it complete, never half-written.
  const scratch = `${path}.${crypto.randomUUID()}.tmp`;
  await writeFile(scratch, token + "\n", { mode: 0o600 });
  const linked = await link(scratch, path).then(() => true, (error) => {
    if ((error as { code?: string }).code === "EEXIST") return false;
    throw error;
  }).finally(() => unlink(scratch).catch(() => {}));
  if (!linked) return keptToken(path, (await readFile(path, "utf8")).trim());
  return { token, source: "generated", path };
}
