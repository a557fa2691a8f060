// Runs pending migrations once, under a transaction-scoped advisory lock, so
// several replicas starting together apply each migration exactly once and
// the others wait, then find nothing left to do.
import type { Sql } from "postgres";
import { type Migration, migrations } from "./migrations.ts";

// Arbitrary constant shared by every statehook process: "statehook" in ASCII.
const MIGRATION_LOCK_KEY = 0x7374617465686f6fn;

export async function migrate(sql: Sql, list: Migration[] = migrations): Promise<number[]> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    await tx`
      CREATE TABLE IF NOT EXISTS statehook_migrations (
        version INT PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`;
    const done = new Set(
      (await tx<{ version: number }[]>`SELECT version FROM statehook_migrations`).map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of list) {
      if (done.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO statehook_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
    return applied;
  });
}
