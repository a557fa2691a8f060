// DNS rebinding between the send-time check and the connection: the guard is
// told the webhook's name resolves to a public address, the system resolver
// (what fetch would ask) says 127.0.0.1. Under Bun the request goes to the
// address that was checked, with the name kept for the Host header, SNI and
// the certificate check. Deno's fetch cannot be pointed at an address, so
// there the window stays open, as the README says.
//
// The sender runs in a child process in network and mount namespaces of its
// own (unshare -n -m): the "public" address is on its loopback interface and
// nothing it sends can leave the machine.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates } from "./support/certificates.ts";
import { checkAndPin } from "../src/send/pinned-target.ts";
import type { ProbeReport, ProbeReports } from "./support/rebind-probe.ts";
import { namespaceFiles } from "./support/seed.ts";
import { ROOT, runtime, spawnProcess } from "./support/service.ts";

const PUBLIC_ADDRESS = "93.184.216.34";
const PUBLIC_ADDRESS_V6 = "2606:2800:220:1::1";
const NAME = "rebind.statehook.test";

const dir = await mkdtemp(join(tmpdir(), "statehook-rebind-"));
after(() => rm(dir, { recursive: true, force: true }));

async function runProbe(): Promise<ProbeReports> {
  const certificates = makeCertificates(dir, [NAME, "other.statehook.test"]);
  const ns = await namespaceFiles(dir, { [NAME]: "127.0.0.1" });
  const bin = join(ROOT, "node_modules", ".bin", runtime);
  const probe = join(ROOT, "test", "support", "rebind-probe.ts");
  const command = runtime === "bun" ? [bin, probe] : [bin, "run", "-A", probe];
  const setup = 'ip link set lo up && ip addr add "$1"/32 dev lo && ip addr add "$2"/128 dev lo && ' +
    'mount --bind "$3" /etc/hosts && mount --bind "$4" /etc/resolv.conf && shift 4 && exec "$@"';
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    PUBLIC_ADDRESS,
    PUBLIC_ADDRESS_V6,
    CERT_DIR: dir,
    NODE_EXTRA_CA_CERTS: certificates.caFile,
    DENO_CERT: certificates.caFile,
    NO_COLOR: "1",
  });
  const child = spawnProcess(
    [
      "unshare",
      "-n",
      "-m",
      "sh",
      "-c",
      setup,
      "sh",
      PUBLIC_ADDRESS,
      PUBLIC_ADDRESS_V6,
      ns.hostsFile,
      ns.resolvConfFile,
      ...command,
    ],
    env,
  );
  let stdout = "";
  let stderr = "";
  child.onStdout((chunk) => (stdout += chunk));
  child.onStderr((chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const { code } = await child.exited;
  clearTimeout(timer);
  assert.equal(code, 0, `probe failed: ${stderr.slice(-2000)}`);
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

const report = await runProbe();

function assertReachedChecked({ result, internalConnections, publicRequests }: ProbeReport) {
  assert.equal(internalConnections, 0, "the loopback address fetch would have found was never contacted");
  assert.deepEqual(result, {
    ...(result as object),
    kind: "response",
    statusCode: 200,
    responseBody: "public receiver",
  });
  assert.equal(publicRequests.length, 1);
  assert.equal(publicRequests[0].serverName, NAME, "SNI names the host, not the address");
  assert.match(publicRequests[0].host, new RegExp(`^${NAME.replaceAll(".", "\\.")}:\\d+$`));
  assert.equal(publicRequests[0].path, "/hook");
}

if (runtime === "bun") {
  test("Bun: the request goes to the address the guard checked, not to fetch's own answer", () => {
    assertReachedChecked(report.pinned);
  });

  test("Bun: the same for a checked IPv6 address", () => {
    assertReachedChecked(report.pinnedV6);
  });

  test("Bun: the certificate is still checked against the host name", () => {
    const { result, internalConnections, publicRequests } = report.wrongCertificate;
    assert.equal(internalConnections, 0);
    assert.deepEqual(publicRequests, [], "nothing was posted over a connection whose certificate does not match");
    const error = (result as { kind: string; error?: string }).error ?? "";
    assert.equal((result as { kind: string }).kind, "error");
    assert.match(error, /ALTNAME|certificate|hostname/i);
  });
} else {
  test("Deno: fetch resolves the name again, so the checked address is not the one reached (the known gap)", () => {
    const { internalConnections, publicRequests } = report.pinned;
    assert.equal(internalConnections, 1, "Deno's fetch found 127.0.0.1 itself; if this fails, Deno can now pin");
    assert.deepEqual(publicRequests, []);
  });
}

test("the address chosen: IPv4 first, IPv6 in brackets, the host and port kept for the Host header", async () => {
  const pin = (url: string, addresses: string[]) => checkAndPin(url, async () => addresses);
  const both = await pin("https://hooks.example.com:8443/x?y=1", [PUBLIC_ADDRESS_V6, PUBLIC_ADDRESS]);
  const v6 = await pin("https://hooks.example.com/x", [PUBLIC_ADDRESS_V6]);
  const literal = await pin(`https://${PUBLIC_ADDRESS}/x`, []);
  if (runtime === "bun") {
    assert.deepEqual([both.ok && both.url, both.ok && both.host], [
      `https://${PUBLIC_ADDRESS}:8443/x?y=1`,
      "hooks.example.com:8443",
    ]);
    assert.deepEqual([v6.ok && v6.url, v6.ok && v6.host], [`https://[${PUBLIC_ADDRESS_V6}]/x`, "hooks.example.com"]);
  } else {
    assert.deepEqual([both.ok && both.url, both.ok && both.host], ["https://hooks.example.com:8443/x?y=1", undefined]);
  }
  assert.deepEqual(literal, { ok: true, url: `https://${PUBLIC_ADDRESS}/x`, init: {} }, "an IP literal is sent as is");
  const refused = await pin("https://hooks.example.com/x", [PUBLIC_ADDRESS, "10.0.0.1"]);
  assert.equal(refused.ok, false, "any checked address that is private still refuses the send");
});
