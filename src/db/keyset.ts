// Keyset pagination, newest first, for every listing of the API: rows are
// ordered by (created_at DESC, id DESC) and a page ends at a cursor naming
// the last row's created_at and id, so paging never skips or repeats a row
// while rows are added, however deep the page.
import type { Fragment, Sql } from "postgres";

/**
 * Where a page ends: the last row's created_at in whole microseconds (a JS
 * Date would round them off and skip or repeat rows) and its id.
 */
export type Cursor = { micros: bigint; id: string };

const CURSOR = /^(\d{1,19})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCursor(cursor: Cursor): string {
  return encoder.encode(`${cursor.micros}.${cursor.id}`).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Undefined for anything that is not a cursor this module made. */
export function decodeCursor(text: string): Cursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(text)) return undefined;
  let plain: string;
  try {
    plain = decoder.decode(Uint8Array.fromBase64(text, { alphabet: "base64url" }));
  } catch {
    return undefined;
  }
  const match = CURSOR.exec(plain);
  if (!match) return undefined;
  const micros = BigInt(match[1]);
  return micros < 2n ** 62n ? { micros, id: match[2] } : undefined;
}

/**
 * The select-list column a page needs to name its cursor, for the table
 * aliased `alias` (a constant of the caller's, never input): created_at as
 * whole microseconds since the epoch, as text.
 */
export const createdMicros = (sql: Sql, alias: string): Fragment =>
  sql.unsafe(`(extract(epoch FROM ${alias}.created_at) * 1000000)::bigint::text AS created_micros`);

/** `AND` the rows strictly after `cursor` in newest-first order; nothing without one. */
export function afterCursor(sql: Sql, alias: string, cursor: Cursor | undefined): Fragment {
  if (!cursor) return sql``;
  return sql`AND (${sql.unsafe(`${alias}.created_at, ${alias}.id`)}) <
    ('epoch'::timestamptz + ${cursor.micros.toString()}::bigint * interval '1 microsecond', ${cursor.id}::uuid)`;
}

export type Page<T> = { rows: T[]; next: Cursor | null };

/**
 * The page from rows fetched with `LIMIT limit + 1`: the extra row only says
 * that there is a next page. Strips the created_micros column.
 */
export function pageOf<T extends { id: string }>(rows: (T & { created_micros: string })[], limit: number): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const next = rows.length > limit && last ? { micros: BigInt(last.created_micros), id: last.id } : null;
  return { rows: page.map(({ created_micros: _, ...row }) => row as unknown as T), next };
}
