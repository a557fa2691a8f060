// SSRF guard for webhook target URLs: a shape rule (https, or http only to
// localhost / 127.0.0.1) plus, unless private targets are allowed, a refusal of
// any host that is or resolves to a non-public address.

import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

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
// Policy: the refused ranges

type V4Range = [IPv4, number];
type V6Range = [IPv6, number];

const v4 = (cidr: string): V4Range => ipaddr.IPv4.parseCIDR(cidr);
const v6 = (cidr: string): V6Range => ipaddr.IPv6.parseCIDR(cidr);

const REFUSED_V4: V4Range[] = [
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
].map(v4);

// IPv6 is allow-listed: only global unicast 2000::/3 can be public. That alone
// refuses ::, ::1, IPv4-compatible ::/96, fc00::/7 (incl. fd00:ec2::254),
// fe80::/10, ff00::/8 and the rest; these are the non-public holes inside it.
const GLOBAL_UNICAST = v6("2000::/3");
const REFUSED_V6_IN_GLOBAL: V6Range[] = [
  "2001::/23", // IETF protocol assignments, incl. Teredo 2001::/32
  "2001:db8::/32", // documentation
  "3fff::/20", // documentation
].map(v6);

// IPv6 forms that carry the IPv4 address the packet really goes to, with the
// index of the 16-bit group where those 32 bits start. The IPv4 decides.
const CARRIES_V4: Array<{ range: V6Range; at: number }> = [
  { range: v6("::ffff:0:0/96"), at: 6 }, // IPv4-mapped
  { range: v6("64:ff9b::/96"), at: 6 }, // NAT64 (RFC 6052)
  { range: v6("2002::/16"), at: 1 }, // 6to4
];

function embeddedIPv4(address: IPv6): IPv4 | null {
  const carrier = CARRIES_V4.find(({ range }) => address.match(range));
  if (carrier === undefined) return null;
  const [high, low] = address.parts.slice(carrier.at, carrier.at + 2);
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function isRefusedIPv4(address: IPv4): boolean {
  return REFUSED_V4.some((range) => address.match(range));
}

function isRefusedIPv6(address: IPv6): boolean {
  const carried = embeddedIPv4(address);
  if (carried !== null) return isRefusedIPv4(carried);
  if (!address.match(GLOBAL_UNICAST)) return true;
  return REFUSED_V6_IN_GLOBAL.some((range) => address.match(range));
}

// ---------------------------------------------------------------------------
// IP literals (parsed by ipaddr.js, held to the strict forms)

// Only strict dotted decimal: ipaddr.js would also read 0177.0.0.1 (octal),
// 0x7f.1 and 2130706433, which the URL parser has already normalised away.
function parseIPv4(text: string): IPv4 | null {
  return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : null;
}

// ipaddr.js reads a dotted IPv4 tail loosely (0177 as decimal 177) and reads
// ::a.b.c.d as IPv4-mapped, though it is IPv4-compatible (::/96). So the tail
// is checked strictly here and handed on as two hex groups.
function hexTail(text: string): string | null {
  if (!text.includes(".")) return text;
  const colon = text.lastIndexOf(":");
  const tail = parseIPv4(text.slice(colon + 1));
  if (tail === null) return null;
  const [a, b, c, d] = tail.octets;
  return `${text.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

// Resolvers may return link-local addresses with a zone, e.g. fe80::1%eth0;
// the zone only picks the interface, the address decides.
function stripZone(text: string): string {
  const percent = text.indexOf("%");
  return percent === -1 ? text : text.slice(0, percent);
}

function parseIPv6(text: string): IPv6 | null {
  const plain = hexTail(stripZone(text));
  return plain !== null && ipaddr.IPv6.isValid(plain) ? ipaddr.IPv6.parse(plain) : null;
}

/** True unless `ip` is a plain IPv4/IPv6 literal of a public address. Input
 * that is not a clean literal (brackets, leading zeros, junk) is forbidden:
 * the guard fails closed. */
export function isForbiddenAddress(ip: string): boolean {
  const asV4 = parseIPv4(ip);
  if (asV4 !== null) return isRefusedIPv4(asV4);
  const asV6 = parseIPv6(ip);
  return asV6 === null ? true : isRefusedIPv6(asV6);
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
