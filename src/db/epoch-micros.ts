// A timestamptz as whole microseconds since the epoch, as text: a JS Date
// would round it to milliseconds. The webhook row's version (its updated_at)
// and the delivery list's cursor (created_at) are both read this way.
import type { Sql } from "postgres";

/** `column` is SQL written by us (e.g. "w.updated_at"), never user input. */
export function epochMicros(sql: Sql, column: string) {
  return sql.unsafe(`(extract(epoch FROM ${column}) * 1000000)::bigint::text`);
}
