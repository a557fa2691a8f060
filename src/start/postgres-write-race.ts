// postgres.js 3.4.9 can throw from a timer after a connection drops: a small
// write is deferred with setImmediate, the close nulls the socket, and the
// deferred `socket.write` throws a TypeError that no caller can catch
// (porsager/postgres#1066, #1154, #1208; fixes proposed, none released). By
// then the close has already failed the query with CONNECTION_CLOSED, which
// the caller handles, so the throw carries no news. This lets exactly that
// throw pass with a warning; anything else still ends the process as before.
import process from "node:process";
import type { Log } from "./log.ts";

/** True for the deferred write on a dropped connection, and nothing else. */
export function isPostgresWriteRace(error: unknown): boolean {
  return error instanceof TypeError &&
    /socket\.write|reading 'write'/.test(error.message) &&
    /postgres\/src\/connection\.js/.test(error.stack ?? "");
}

export function survivePostgresWriteRace(log: Log): void {
  process.on("uncaughtException", (error: unknown) => {
    if (isPostgresWriteRace(error)) {
      log("warn", "a write on a dropped database connection was discarded", { error: String(error) });
      return;
    }
    console.error(error);
    process.exit(1);
  });
}
