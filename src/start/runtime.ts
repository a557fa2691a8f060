// The one module that knows which runtime it is on: serving HTTP with
// Bun.serve or Deno.serve, and the runtime's own fetch options. Everything
// else uses web-standard APIs.

export type Server = { port: number; stop(): Promise<void> };
export type Fetch = (request: Request) => Response | Promise<Response>;

declare const Bun: {
  serve(options: Record<string, unknown>): { port: number; stop(force?: boolean): Promise<void> | void };
} | undefined;
declare const Deno:
  | { serve(options: Record<string, unknown>, handler: Fetch): { addr: { port: number }; shutdown(): Promise<void> } }
  | undefined;

export const runtimeName = typeof Bun !== "undefined" ? "bun" : typeof Deno !== "undefined" ? "deno" : "node";

export function serve(fetch: Fetch, options: { hostname: string; port: number }): Server {
  if (typeof Bun !== "undefined") {
    const server = Bun.serve({ fetch, hostname: options.hostname, port: options.port, idleTimeout: 60 });
    return { port: server.port, stop: async () => void (await server.stop()) };
  }
  if (typeof Deno !== "undefined") {
    const server = Deno.serve({ hostname: options.hostname, port: options.port, onListen: () => {} }, fetch);
    return { port: server.addr.port, stop: () => server.shutdown() };
  }
  throw new Error("statehook runs under Bun or Deno");
}

/**
 * Added to every outbound fetch so the body arrives as the receiver sent it.
 * Bun decodes gzip, br, zstd and deflate even when the request asked for
 * `Accept-Encoding: identity`, and it keeps decoding natively after the
 * reader has cancelled: 50 answers of 809 bytes of brotli took the service
 * past 320 MB although only 4 KiB of each was read. `decompress: false` turns
 * that off. Deno leaves the body alone once the request names its own
 * Accept-Encoding.
 */
export const undecodedFetchInit: RequestInit = typeof Bun !== "undefined" ? { decompress: false } as RequestInit : {};

/**
 * Fetch options that send a request to an address fetch did not resolve
 * itself while TLS still sends `serverName` as SNI and verifies the
 * certificate for it: Bun's `tls.serverName`, used with an IP in the URL and
 * the name in the Host header. Null on Deno, whose fetch has neither a
 * resolver hook nor a server-name override (an IP URL is verified against the
 * IP and fails).
 */
export const pinnedTlsInit: ((serverName: string) => RequestInit) | null = typeof Bun !== "undefined"
  ? (serverName) => ({ tls: { serverName } } as RequestInit)
  : null;
