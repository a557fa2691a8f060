// The `cursor` query parameter of every keyset-paged listing: the next_cursor
// the API handed out, or a 400 for anything else.
import type { Context } from "hono";
import { type Cursor, decodeCursor } from "../db/keyset.ts";
import { apiError } from "./errors.ts";

/** The page's starting point: undefined for the first page, null for a cursor this API did not hand out. */
export const startOf = (cursor: string | undefined): Cursor | undefined | null =>
  cursor === undefined ? undefined : decodeCursor(cursor) ?? null;

export const badCursor = (c: Context) =>
  apiError(c, 400, "invalid_cursor", "query.cursor: not a cursor from next_cursor");
