// The postgres.js connection pool every part of statehook shares. Notices are
// silenced (migrations re-run IF NOT EXISTS statements and would log one per
// object); the pool size bounds how many statements run at once.
import postgres, { type Sql } from "postgres";

export type { Sql };

export function connect(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
  });
}
