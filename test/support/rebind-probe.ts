// Run by test/dns-rebinding.test.ts inside a network namespace of its own,
// where PUBLIC_ADDRESS and PUBLIC_ADDRESS_V6 are local addresses and
// /etc/hosts maps rebind.statehook.test to 127.0.0.1. The sender's guard is
// told the name resolves to a public address (the first answer of a
// rebinding name); fetch,
// left to itself, would find 127.0.0.1 (the second). A TLS receiver listens
// on each, on the same port; the probe prints, as one JSON line, what the
// sender got and which of them it reached.
import { createServer as createTlsServer } from "node:https";
import { createServer as createTcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import process from "node:process";
import { createSender } from "../../src/send/sender.ts";

export const NAME = "rebind.statehook.test";
export type ProbeReports = { pinned: ProbeReport; pinnedV6: ProbeReport; wrongCertificate: ProbeReport };
export type ProbeReport = {
  result: unknown;
  /** TCP connections the loopback listener accepted: fetch's own answer. */
  internalConnections: number;
  /** Requests the receiver at PUBLIC_ADDRESS answered: the checked answer. */
  publicRequests: { serverName: string; host: string; path: string }[];
};

const certDir = process.env.CERT_DIR!;
const never = new AbortController().signal;

/** One POST to https://rebind.statehook.test:<port>/hook, the receiver at `publicAddress` presenting `certName`'s certificate. */
async function probe(publicAddress: string, certName: string): Promise<ProbeReport> {
  const publicRequests: ProbeReport["publicRequests"] = [];
  const tls = createTlsServer({
    key: readFileSync(`${certDir}/${certName}.key`),
    cert: readFileSync(`${certDir}/${certName}.pem`),
  }, (req, res) => {
    const serverName = String((req.socket as Socket & { servername?: string }).servername);
    publicRequests.push({ serverName, host: String(req.headers.host), path: String(req.url) });
    req.resume();
    req.on("end", () => res.end("public receiver"));
  });
  await new Promise<void>((resolve) => tls.listen(0, publicAddress, resolve));
  const port = (tls.address() as AddressInfo).port;
  let internalConnections = 0;
  const internal = createTcpServer((socket) => {
    internalConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => internal.listen(port, "127.0.0.1", resolve));

  const send = createSender({ timeoutMs: 5000, allowPrivateTargets: false, resolve: async () => [publicAddress] });
  const result = await send(
    { url: `https://${NAME}:${port}/hook`, headers: { "content-type": "application/json" }, body: "{}" },
    never,
  );
  tls.closeAllConnections?.();
  await new Promise((resolve) => tls.close(resolve));
  await new Promise((resolve) => internal.close(resolve));
  return { result, internalConnections, publicRequests };
}

const report = {
  pinned: await probe(process.env.PUBLIC_ADDRESS!, NAME),
  pinnedV6: await probe(process.env.PUBLIC_ADDRESS_V6!, NAME),
  wrongCertificate: await probe(process.env.PUBLIC_ADDRESS!, "other.statehook.test"),
};
console.log(JSON.stringify(report));
process.exit(0);
