// SSRF guard for webhook target URLs: a shape rule (https, or http only to
// localhost / 127.0.0.1) plus, unless private targets are allowed, a refusal of
// any host that is or resolves to a non-public address.

import { lookup } from "node:dns/promises";

export type TargetCheckCode =
  | "invalid_url"
  | "scheme_not_allowed"
  | "private_target"
  | "unresolvable";

export type TargetCheck =
  | { ok: true }
  | { ok: false; code: TargetCheckCode; message: string };

type Refusal = Extract<TargetCheck, { ok: false }>;

export type Resolve = (host: string) => Promise<string[]>;

export type TargetOptions = { allowPrivate: boolean; resolve?: Resolve };

export const defaultResolve: Resolve = async (host) => {
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((entry) => entry.address);
};

const OK: TargetCheck = { ok: true };
const ALLOW_HINT = "set STATEHOOK_ALLOW_PRIVATE_TARGETS=true to allow it";
const PLAIN_HTTP_HOSTS = new Set(["localhost", "127.0.0.1"]);

function refuse(code: TargetCheckCode, message: string): Refusal {
  return { ok: false, code, message };
}

// ---------------------------------------------------------------------------
// URL shape

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

// Messages never echo the whole URL: it may carry credentials or tokens.
function shapeOf(url: string): { ok: true; url: URL } | Refusal {
  const parsed = parseUrl(url);
  if (parsed === null) return refuse("invalid_url", "url is not a valid absolute URL");
  if (parsed.username !== "" || parsed.password !== "") {
    return refuse("invalid_url", "url must not contain credentials (user:pass@)");
  }
  if (parsed.protocol === "https:") return { ok: true, url: parsed };
  if (parsed.protocol !== "http:") {
    return refuse("scheme_not_allowed", `url scheme ${parsed.protocol} is not allowed; use https://`);
  }
  // Compared on the parsed hostname, so http://localhost.evil.example is refused.
  if (PLAIN_HTTP_HOSTS.has(parsed.hostname)) return { ok: true, url: parsed };
  return refuse(
    "scheme_not_allowed",
    `url uses http:// for host ${parsed.hostname}; use https:// (http:// is only allowed for localhost and 127.0.0.1)`,
  );
}

export function checkUrlShape(url: string): TargetCheck {
  const shape = shapeOf(url);
  return shape.ok ? OK : shape;
}

// ---------------------------------------------------------------------------
// IP literal parsing

// Strict dotted decimal. Leading zeros are refused because a URL parser reads
// 0177 as octal 127, while a naive decimal parse would read it as 177.
function parseDecimalOctet(part: string): number | null {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
  const value = Number(part);
  return value <= 255 ? value : null;
}

function parseIPv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    const octet = parseDecimalOctet(part);
    if (octet === null) return null;
    value = value * 256 + octet;
  }
  return value;
}

function parseHexGroup(token: string): number | null {
  return /^[0-9a-fA-F]{1,4}$/.test(token) ? parseInt(token, 16) : null;
}

// Colon-separated 16-bit groups; the last token may be a dotted IPv4 tail,
// which counts as two groups.
function parseGroupList(text: string, allowIPv4Tail: boolean): number[] | null {
  if (text === "") return [];
  const tokens = text.split(":");
  const groups: number[] = [];
  for (const [index, token] of tokens.entries()) {
    const isLast = index === tokens.length - 1;
    if (isLast && allowIPv4Tail && token.includes(".")) {
      const v4 = parseIPv4(token);
      if (v4 === null) return null;
      groups.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      continue;
    }
    const group = parseHexGroup(token);
    if (group === null) return null;
    groups.push(group);
  }
  return groups;
}

function groupsToBigInt(groups: number[]): bigint {
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

function parseIPv6(text: string): bigint | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  if (halves.length === 1) {
    const groups = parseGroupList(text, true);
    return groups !== null && groups.length === 8 ? groupsToBigInt(groups) : null;
  }
  const head = parseGroupList(halves[0], false);
  const tail = parseGroupList(halves[1], true);
  if (head === null || tail === null || head.length + tail.length > 7) return null;
  const zeros: number[] = new Array(8 - head.length - tail.length).fill(0);
  return groupsToBigInt([...head, ...zeros, ...tail]);
}

// Resolvers may return link-local addresses with a zone, e.g. fe80::1%eth0.
function stripZone(text: string): string {
  const percent = text.indexOf("%");
  return percent === -1 ? text : text.slice(0, percent);
}

// ---------------------------------------------------------------------------
// Address classification

type V4Range = { base: number; bits: number };
type V6Range = { base: bigint; bits: number };

function v4Range(cidr: string): V4Range {
  const [address, bits] = cidr.split("/");
  return { base: parseIPv4(address)!, bits: Number(bits) };
}

function v6Range(cidr: string): V6Range {
  const [address, bits] = cidr.split("/");
  return { base: parseIPv6(address)!, bits: Number(bits) };
}

function inV4Range(address: number, range: V4Range): boolean {
  const size = 2 ** (32 - range.bits);
  return Math.floor(address / size) === Math.floor(range.base / size);
}

function inV6Range(address: bigint, range: V6Range): boolean {
  const shift = BigInt(128 - range.bits);
  return address >> shift === range.base >> shift;
}

const FORBIDDEN_V4: V4Range[] = [
  "0.0.0.0/8", // "this network", includes unspecified 0.0.0.0
  "10.0.0.0/8",
  "100.64.0.0/10", // CGNAT
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, includes metadata 169.254.169.254
  "172.16.0.0/12",
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // TEST-NET-1
  "192.88.99.0/24", // 6to4 relay anycast
  "192.168.0.0/16",
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24", // TEST-NET-2
  "203.0.113.0/24", // TEST-NET-3
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, includes broadcast 255.255.255.255
].map(v4Range);

// IPv6 is allow-listed: only global unicast 2000::/3 can be public. That alone
// refuses ::, ::1, IPv4-compatible ::/96, fc00::/7 (incl. fd00:ec2::254),
// fe80::/10, ff00::/8 and the rest; these are the non-public holes inside it.
const GLOBAL_UNICAST = v6Range("2000::/3");
const FORBIDDEN_V6_IN_GLOBAL: V6Range[] = [
  "2001::/23", // IETF protocol assignments, incl. Teredo 2001::/32
  "2001:db8::/32", // documentation
  "3fff::/20", // documentation
].map(v6Range);

const IPV4_MAPPED = v6Range("::ffff:0:0/96");
const NAT64 = v6Range("64:ff9b::/96");
const SIX_TO_FOUR = v6Range("2002::/16");

// IPv6 forms that carry an IPv4 address the packet really goes to.
function embeddedIPv4(address: bigint): number | null {
  if (inV6Range(address, IPV4_MAPPED) || inV6Range(address, NAT64)) {
    return Number(address & 0xffffffffn);
  }
  if (inV6Range(address, SIX_TO_FOUR)) return Number((address >> 80n) & 0xffffffffn);
  return null;
}

function isForbiddenIPv4(address: number): boolean {
  return FORBIDDEN_V4.some((range) => inV4Range(address, range));
}

function isForbiddenIPv6(address: bigint): boolean {
  const v4 = embeddedIPv4(address);
  if (v4 !== null) return isForbiddenIPv4(v4);
  if (!inV6Range(address, GLOBAL_UNICAST)) return true;
  return FORBIDDEN_V6_IN_GLOBAL.some((range) => inV6Range(address, range));
}

/** True unless `ip` is a plain IPv4/IPv6 literal of a public address. Input
 * that is not a clean literal (brackets, leading zeros, junk) is forbidden:
 * the guard fails closed. */
export function isForbiddenAddress(ip: string): boolean {
  const v4 = parseIPv4(ip);
  if (v4 !== null) return isForbiddenIPv4(v4);
  const v6 = parseIPv6(stripZone(ip));
  return v6 === null ? true : isForbiddenIPv6(v6);
}

// ---------------------------------------------------------------------------
// Host checks

type Host = { kind: "ip"; address: string } | { kind: "name"; name: string };

// Relies on the WHATWG URL parser having already normalised every IPv4
// notation (2130706433, 0x7f.1, 0177.0.0.1, 127.1) to dotted decimal, and
// bracketed IPv6 to its compressed form; both Bun and Deno do.
function classifyHost(hostname: string): Host {
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    return { kind: "ip", address: hostname.slice(1, -1) };
  }
  if (parseIPv4(hostname) !== null) return { kind: "ip", address: hostname };
  return { kind: "name", name: hostname };
}

function isLocalhostName(name: string): boolean {
  const bare = (name.endsWith(".") ? name.slice(0, -1) : name).toLowerCase();
  return bare === "localhost" || bare.endsWith(".localhost");
}

async function resolveOrNull(resolve: Resolve, name: string): Promise<string[] | null> {
  try {
    const addresses = await resolve(name);
    return addresses.length > 0 ? addresses : null;
  } catch {
    return null;
  }
}

async function checkTarget(
  url: string,
  opts: TargetOptions,
  onUnresolvable: (hostname: string) => TargetCheck,
): Promise<TargetCheck> {
  const shape = shapeOf(url);
  if (!shape.ok) return shape;
  if (opts.allowPrivate) return OK;
  const hostname = shape.url.hostname;
  const host = classifyHost(hostname);
  if (host.kind === "ip") {
    if (!isForbiddenAddress(host.address)) return OK;
    return refuse("private_target", `url host ${hostname} is a private address; ${ALLOW_HINT}`);
  }
  if (isLocalhostName(host.name)) {
    return refuse("private_target", `url host ${hostname} is a loopback name; ${ALLOW_HINT}`);
  }
  const addresses = await resolveOrNull(opts.resolve ?? defaultResolve, host.name);
  if (addresses === null) return onUnresolvable(hostname);
  const forbidden = addresses.find(isForbiddenAddress);
  if (forbidden === undefined) return OK;
  return refuse(
    "private_target",
    `url host ${hostname} resolves to private address ${forbidden}; ${ALLOW_HINT}`,
  );
}

/** For the API: a name that does not resolve is accepted, since DNS may be
 * down now; it is checked again on every send. */
export function checkTargetAtCreate(url: string, opts: TargetOptions): Promise<TargetCheck> {
  return checkTarget(url, opts, () => OK);
}

/** Before every delivery attempt: a name that does not resolve is refused. */
export function checkTargetAtSend(url: string, opts: TargetOptions): Promise<TargetCheck> {
  return checkTarget(
    url,
    opts,
    (hostname) => refuse("unresolvable", `could not resolve host ${hostname}`),
  );
}
