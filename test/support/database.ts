// A private database for one test file: a fresh database on DATABASE_URL's
// server when that is set (the test script starts one embedded cluster for
// the whole run), otherwise an embedded cluster of its own in a temp dir.
// Either way it is migrated, and dropped or deleted by close().
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Sql } from "../../src/db/client.ts";
import { startEmbeddedPostgres } from "../../src/db/embedded.ts";
import { migrate } from "../../src/db/migrate.ts";

export type TestDatabase = { sql: Sql; url: string; close(): Promise<void> };

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function testDatabase(options: { max?: number } = {}): Promise<TestDatabase> {
  let serverUrl = process.env.DATABASE_URL;
  let stopServer = async () => {};
  if (!serverUrl) {
    const dir = await mkdtemp(join(tmpdir(), "statehook-test-"));
    const embedded = await startEmbeddedPostgres(dir);
    serverUrl = embedded.url;
    stopServer = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const name = `statehook_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = connect(serverUrl, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl, name);
  const sql = connect(url, { max: options.max ?? 10 });
  await migrate(sql);
  return {
    sql,
    url,
    async close() {
      await sql.end({ timeout: 5 });
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 5 });
      await stopServer();
    },
  };
}
