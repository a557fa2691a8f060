import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkTargetAtCreate,
  checkTargetAtSend,
  checkUrlShape,
  defaultResolve,
  isForbiddenAddress,
  type Resolve,
} from "../src/send/target-guard.ts";

// A fake resolver that records the names asked for.
function fakeResolve(answer: (host: string) => string[]): Resolve & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    return answer(host);
  };
  return Object.assign(resolve, { calls });
}

const notFound = () => {
  throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
};

const mustNotResolve = () => {
  throw new Error("resolve must not be called for this URL");
};

const FORBIDDEN_URLS = [
  // IPv4 loopback in every notation the URL parser accepts
  "http://127.0.0.1/",
  "http://2130706433/",
  "http://0x7f.1/",
  "https://0x7f000001/",
  "http://0177.0.0.1/",
  "https://0177.1/",
  "http://127.1/",
  "https://127.0.0.2/",
  "https://%31%32%37.0.0.1/",
  // IPv6 loopback / unspecified
  "https://[::1]/",
  "https://[0:0:0:0:0:0:0:1]/",
  "https://[::]/",
  // IPv4-mapped and IPv4-compatible IPv6
  "https://[::ffff:127.0.0.1]/",
  "https://[::ffff:7f00:1]/",
  "https://[::ffff:10.0.0.1]/",
  "https://[::127.0.0.1]/",
  // NAT64 and 6to4 embedding a private IPv4
  "https://[64:ff9b::10.0.0.1]/",
  "https://[64:ff9b::7f00:1]/",
  "https://[2002:a00:1::]/",
  "https://[2002:7f00:1::1]/",
  "https://[2002:c0a8:101::]/",
  // cloud metadata
  "https://169.254.169.254/latest/meta-data/",
  "https://[fd00:ec2::254]/",
  // unspecified, CGNAT, RFC 1918, link-local
  "https://0.0.0.0/",
  "https://0/",
  "https://100.64.0.1/",
  "https://100.127.255.254/",
  "https://192.168.1.1/",
  "https://172.16.0.1/",
  "https://172.31.255.255/",
  "https://10.0.0.1/",
  "https://10.255.255.255/",
  "https://169.254.1.1/",
  "https://[fe80::1]/",
  "https://[febf::1]/",
  // unique-local IPv6
  "https://[fc00::1]/",
  "https://[fd12:3456:789a::1]/",
  // multicast, reserved, broadcast
  "https://224.0.0.1/",
  "https://239.255.255.250/",
  "https://[ff02::1]/",
  "https://[ff0e::1]/",
  "https://240.0.0.1/",
  "https://255.255.255.255/",
  // documentation ranges
  "https://192.0.2.10/",
  "https://[2001:db8::1]/",
  // localhost names
  "https://localhost/",
  "http://localhost:8080/hook",
  "https://LOCALHOST/",
  "https://localhost./",
  "https://api.localhost/",
];

for (const url of FORBIDDEN_URLS) {
  test(`refuses private literal target ${url}`, async () => {
    const resolve = fakeResolve(mustNotResolve);
    for (const check of [checkTargetAtCreate, checkTargetAtSend]) {
      const result = await check(url, { allowPrivate: false, resolve });
      assert.equal(result.ok, false, `${url} should be refused`);
      assert.equal(!result.ok && result.code, "private_target");
    }
    assert.deepEqual(resolve.calls, []);
  });
}

const PUBLIC_URLS = [
  "https://8.8.8.8/",
  "https://1.1.1.1/x",
  "https://172.32.0.1/",
  "https://100.128.0.1/",
  "https://[2606:4700::1111]/",
  "https://[2001:4860:4860::8888]/",
  "https://[2002:808:808::]/", // 6to4 of 8.8.8.8
  "https://[::ffff:8.8.8.8]/",
];

for (const url of PUBLIC_URLS) {
  test(`accepts public literal target ${url} without resolving`, async () => {
    const resolve = fakeResolve(mustNotResolve);
    assert.deepEqual(await checkTargetAtCreate(url, { allowPrivate: false, resolve }), { ok: true });
    assert.deepEqual(await checkTargetAtSend(url, { allowPrivate: false, resolve }), { ok: true });
    assert.deepEqual(resolve.calls, []);
  });
}

test("private literal message names the host and the setting", async () => {
  const result = await checkTargetAtCreate("https://10.0.0.1/hook", { allowPrivate: false });
  assert.deepEqual(result, {
    ok: false,
    code: "private_target",
    message: "url host 10.0.0.1 is a private address; set STATEHOOK_ALLOW_PRIVATE_TARGETS=true to allow it",
  });
});

test("isForbiddenAddress classifies raw resolver answers", () => {
  const forbidden = [
    "127.0.0.1",
    "10.0.0.5",
    "::1",
    "::",
    "fe80::1%eth0",
    "::ffff:192.168.0.1",
    "64:ff9b::a00:1",
    "2002:a9fe:a9fe::",
    "fd00:ec2::254",
    "100::1",
    "2001::1",
  ];
  const allowed = ["8.8.8.8", "2606:4700:4700:0:0:0:0:1111", "2a00:1450:4001:80b::200e", "64:ff9b::808:808"];
  for (const ip of forbidden) assert.equal(isForbiddenAddress(ip), true, ip);
  for (const ip of allowed) assert.equal(isForbiddenAddress(ip), false, ip);
});

test("isForbiddenAddress fails closed on anything that is not a clean literal", () => {
  const junk = [
    "",
    "not-an-ip",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "0177.0.0.1",
    "08.8.8.8",
    "[2606:4700::1111]",
    "1::2::3",
    "12345::",
    ":::",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::ffff:8.8.8",
  ];
  for (const ip of junk) assert.equal(isForbiddenAddress(ip), true, JSON.stringify(ip));
});

test("isForbiddenAddress reads a dotted IPv4 tail in IPv6 strictly and for what it is", () => {
  // ::a.b.c.d is IPv4-compatible (::/96, refused), not IPv4-mapped; glibc prints ::808:808 so.
  assert.equal(isForbiddenAddress("::8.8.8.8"), true);
  assert.equal(isForbiddenAddress("::ffff:8.8.8.8"), false);
  assert.equal(isForbiddenAddress("64:ff9b::8.8.8.8"), false);
  assert.equal(isForbiddenAddress("64:ff9b::127.0.0.1"), true);
  // A tail that is not strict dotted decimal is junk, not 177.0.0.1 or 127.0.0.1.
  for (const ip of ["::ffff:0177.0.0.1", "::ffff:0x7f.0.0.1", "::ffff:8.8.8.08", "1:2:3:4:5:6:7:8.8.8.8"]) {
    assert.equal(isForbiddenAddress(ip), true, ip);
  }
  // Any zone is dropped before the address is judged.
  assert.equal(isForbiddenAddress("fe80::1%eth0.100"), true);
  assert.equal(isForbiddenAddress("2606:4700::1111%eth0.100"), false);
});

test("checkUrlShape accepts https anywhere and http only to localhost and 127.0.0.1", () => {
  for (
    const url of ["https://example.com/x", "https://10.0.0.1/", "http://localhost:3000/x", "http://127.0.0.1:9999/x"]
  ) {
    assert.deepEqual(checkUrlShape(url), { ok: true }, url);
  }
});

test("checkUrlShape refuses other schemes, plain http elsewhere, credentials and garbage", () => {
  const cases: Array<[string, string]> = [
    ["ftp://example.com/file", "scheme_not_allowed"],
    ["javascript:alert(1)", "scheme_not_allowed"],
    ["file:///etc/passwd", "scheme_not_allowed"],
    ["http://example.com/hook", "scheme_not_allowed"],
    ["http://localhost.evil.example/", "scheme_not_allowed"],
    ["http://127.0.0.1.nip.io/", "scheme_not_allowed"],
    ["http://[::1]/", "scheme_not_allowed"],
    ["https://user:pass@example.com/", "invalid_url"],
    ["https://user@example.com/", "invalid_url"],
    ["http://user:pass@localhost/", "invalid_url"],
    ["not a url", "invalid_url"],
    ["", "invalid_url"],
    ["https://", "invalid_url"],
    ["https://256.1.1.1/", "invalid_url"],
  ];
  for (const [url, code] of cases) {
    const result = checkUrlShape(url);
    assert.equal(!result.ok && result.code, code, url);
    assert.equal(!result.ok && typeof result.message, "string");
  }
});

test("credential refusal does not echo the secret", () => {
  const result = checkUrlShape("https://alice:s3cret@example.com/");
  assert.equal(result.ok, false);
  assert.ok(!result.ok && !result.message.includes("s3cret"));
});

test("shape rule still applies when private targets are allowed", async () => {
  const resolve = fakeResolve(mustNotResolve);
  const result = await checkTargetAtCreate("ftp://10.0.0.1/", { allowPrivate: true, resolve });
  assert.equal(!result.ok && result.code, "scheme_not_allowed");
  assert.deepEqual(resolve.calls, []);
});

test("create: a name that does not resolve is accepted", async () => {
  const resolve = fakeResolve(notFound);
  const result = await checkTargetAtCreate("https://hooks.example.com/in", { allowPrivate: false, resolve });
  assert.deepEqual(result, { ok: true });
  assert.deepEqual(resolve.calls, ["hooks.example.com"]);
});

test("create: a name resolving to a private address is refused", async () => {
  const resolve = fakeResolve(() => ["10.0.0.5"]);
  const result = await checkTargetAtCreate("https://internal.example.com/", { allowPrivate: false, resolve });
  assert.deepEqual(result, {
    ok: false,
    code: "private_target",
    message:
      "url host internal.example.com resolves to private address 10.0.0.5; set STATEHOOK_ALLOW_PRIVATE_TARGETS=true to allow it",
  });
});

test("create: a name resolving to public and private addresses is refused", async () => {
  const resolve = fakeResolve(() => ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "fd00::7"]);
  const result = await checkTargetAtCreate("https://mixed.example.com/", { allowPrivate: false, resolve });
  assert.equal(!result.ok && result.code, "private_target");
  assert.match(!result.ok ? result.message : "", /fd00::7/);
});

test("create and send: a name resolving only to public addresses is accepted", async () => {
  const resolve = fakeResolve(() => ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]);
  assert.deepEqual(await checkTargetAtCreate("https://example.com/", { allowPrivate: false, resolve }), { ok: true });
  assert.deepEqual(await checkTargetAtSend("https://example.com/", { allowPrivate: false, resolve }), { ok: true });
  assert.deepEqual(resolve.calls, ["example.com", "example.com"]);
});

test("send: a name that does not resolve is refused as unresolvable", async () => {
  const resolve = fakeResolve(notFound);
  const result = await checkTargetAtSend("https://hooks.example.com/in", { allowPrivate: false, resolve });
  assert.deepEqual(result, {
    ok: false,
    code: "unresolvable",
    message: "could not resolve host hooks.example.com",
  });
});

test("send: an empty resolver answer is refused as unresolvable", async () => {
  const resolve = fakeResolve(() => []);
  const result = await checkTargetAtSend("https://hooks.example.com/in", { allowPrivate: false, resolve });
  assert.equal(!result.ok && result.code, "unresolvable");
});

test("send: a name that now resolves to a private address is refused", async () => {
  const resolve = fakeResolve(() => ["169.254.169.254"]);
  const result = await checkTargetAtSend("https://rebind.example.com/", { allowPrivate: false, resolve });
  assert.equal(!result.ok && result.code, "private_target");
});

test("send: a resolver answer that is not an IP literal is refused", async () => {
  const resolve = fakeResolve(() => ["not-an-address"]);
  const result = await checkTargetAtSend("https://odd.example.com/", { allowPrivate: false, resolve });
  assert.equal(!result.ok && result.code, "private_target");
});

test("allowPrivate accepts http://127.0.0.1:9999/x without resolving", async () => {
  const resolve = fakeResolve(mustNotResolve);
  const opts = { allowPrivate: true, resolve };
  assert.deepEqual(await checkTargetAtCreate("http://127.0.0.1:9999/x", opts), { ok: true });
  assert.deepEqual(await checkTargetAtSend("http://127.0.0.1:9999/x", opts), { ok: true });
  assert.deepEqual(await checkTargetAtSend("https://internal.example.com/", opts), { ok: true });
  assert.deepEqual(resolve.calls, []);
});

test("defaultResolve resolves localhost to loopback addresses only", async () => {
  const addresses = await defaultResolve("localhost");
  assert.ok(addresses.length > 0);
  for (const address of addresses) assert.equal(isForbiddenAddress(address), true, address);
});
