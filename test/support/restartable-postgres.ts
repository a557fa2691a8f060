// An embedded Postgres cluster of a test's own that can be stopped and started
// again on the same data directory and port, so a service's DATABASE_URL stays
// valid across a database restart.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { embeddedCluster, startEmbeddedPostgres } from "../../src/db/embedded.ts";

export type RestartablePostgres = {
  url: string;
  /** Fast shutdown (SIGINT): open connections are cut, as in a real restart. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster and deletes its directory. */
  close(): Promise<void>;
};

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = await mkdtemp(join(tmpdir(), "statehook-restart-"));
  // statehook's own start-up does the set-up (initdb, the postgres user,
  // symlinks, the password); then the cluster is taken over on its port.
  const first = await startEmbeddedPostgres(dir);
  await first.stop();
  const url = first.url;
  const port = Number(new URL(url).port);
  const password = (await readFile(join(dir, "postgres-password"), "utf8")).trim();
  const pg = embeddedCluster({ databaseDir: join(dir, "postgres"), port, password });
  let running = false;
  const start = async () => {
    await pg.start();
    running = true;
  };
  const stop = async () => {
    running = false;
    await pg.stop();
  };
  await start();
  return {
    url,
    start,
    stop,
    async close() {
      if (running) await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
