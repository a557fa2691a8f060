// DNS rebinding at send time: the target guard resolves the webhook's host
// and fetch would resolve it again, so a name whose answer flips between the
// two reaches an address nobody checked. Where the runtime allows it (Bun),
// the request goes to an address the guard checked instead, with the Host
// header and the TLS server name (SNI and certificate check) still the name.
import { pinnedTlsInit } from "../start/runtime.ts";
import { checkTargetAtSend, defaultResolve, type Resolve } from "./target-guard.ts";

export type SendTarget =
  | { ok: false; message: string }
  /** `host` is set when `url` names an address in place of the host. */
  | { ok: true; url: string; host?: string; init: RequestInit };

// Every address was checked, so any will do; IPv4 first, because fetch's own
// fallback from an unreachable IPv6 address is lost once one is chosen.
function preferred(addresses: string[]): string {
  return addresses.find((address) => !address.includes(":")) ?? addresses[0];
}

/** The guard's check of `url`, and where to send so that the checked address is the one reached. */
export async function checkAndPin(url: string, resolve: Resolve = defaultResolve): Promise<SendTarget> {
  let checked: string[] = [];
  const check = await checkTargetAtSend(url, {
    allowPrivate: false,
    resolve: async (host) => (checked = await resolve(host)),
  });
  if (!check.ok) return check;
  // Nothing was resolved (the host is an IP literal), or the runtime cannot
  // pin: fetch gets the URL as it is.
  if (checked.length === 0 || pinnedTlsInit === null) return { ok: true, url, init: {} };
  const target = new URL(url);
  const host = target.host;
  const serverName = target.hostname.replace(/\.$/, "");
  const address = preferred(checked);
  target.hostname = address.includes(":") ? `[${address}]` : address;
  return { ok: true, url: target.href, host, init: pinnedTlsInit(serverName) };
}
