// The one module that knows which runtime it is on: serving HTTP with
// Bun.serve or Deno.serve. Everything else uses web-standard APIs.

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
