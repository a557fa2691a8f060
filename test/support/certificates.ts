// A throwaway certificate authority and server certificates for TLS tests,
// made with the openssl command line into a directory the test owns. The
// runtime under test trusts the CA through NODE_EXTRA_CA_CERTS (Bun) or
// DENO_CERT (Deno), set on the child process that needs it.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export type Certificates = { caFile: string; keyFile(name: string): string; certFile(name: string): string };

/** A CA, and one certificate signed by it per DNS name, valid for a day. */
export function makeCertificates(dir: string, names: string[]): Certificates {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=statehook test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  for (const name of names) {
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    );
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=DNS:${name}\n`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    );
  }
  return {
    caFile: join(dir, "ca.pem"),
    keyFile: (name) => join(dir, `${name}.key`),
    certFile: (name) => join(dir, `${name}.pem`),
  };
}
