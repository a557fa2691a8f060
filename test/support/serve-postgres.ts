// Starts one embedded Postgres cluster for a whole test run, prints its URL
// on the first line of stdout and keeps it up until SIGTERM/SIGINT. The test
// script exports that URL as DATABASE_URL; each test file makes its own
// database on it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../../src/db/embedded.ts";

const dir = await mkdtemp(join(tmpdir(), "statehook-run-"));
const db = await startEmbeddedPostgres(dir);
console.log(db.url);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await db.stop();
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setInterval(() => {}, 1 << 30);
