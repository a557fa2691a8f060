// Start-up failures an operator causes and fixes, as one line that names the
// variable to change: not `connect ECONNREFUSED 127.0.0.1:1` or Deno's bare
// `Address already in use (os error 98)`. main prints the line and exits 1.

export class StartupError extends Error {}

const reason = (error: unknown) => error instanceof Error ? error.message : String(error);
const hostPort = (host: string, port: number) => host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

/** Bun and Deno word a failed listen differently, but both put the errno name in `code`. */
export function listenFailed(error: unknown, host: string, port: number): StartupError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "EADDRINUSE") return new StartupError(`STATEHOOK_PORT: ${hostPort(host, port)} is already in use`);
  if (code === "EADDRNOTAVAIL") return new StartupError(`STATEHOOK_HOST: ${host} is not an address of this machine`);
  return new StartupError(`STATEHOOK_HOST, STATEHOOK_PORT: cannot listen on ${hostPort(host, port)}: ${reason(error)}`);
}

/** Names the database by user, host and name: the URL's password stays out of the line. */
export function databaseFailed(error: unknown, url: string): StartupError {
  let where = "";
  try {
    const u = new URL(url);
    where = ` at ${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.host}${u.pathname}`;
  } catch {
    // postgres.js takes URLs that URL does not (several hosts, say): then the line names none.
  }
  return new StartupError(`DATABASE_URL: cannot use the database${where}: ${reason(error)}`);
}
