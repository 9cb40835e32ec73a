/**
 * Keyset paging cursors for the anomaly list: an opaque base64url string
 * holding the last row's `detected_at` (ISO, microsecond precision) and `id`.
 *
 * @module
 */
import { z } from "zod";
import { isPostgresTime } from "@vigil/shared/schemas/web_api";
import { strictUtf8 } from "@vigil/shared/text";

/** The position after which the next page starts (newest first). */
export interface Cursor {
  /** `detected_at` of the last row, ISO 8601 UTC with microseconds. */
  ts: string;
  id: string;
}

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** Encode a cursor. */
export function encodeCursor(cursor: Cursor): string {
  return new TextEncoder().encode(JSON.stringify([cursor.ts, cursor.id]))
    .toBase64({ alphabet: "base64url", omitPadding: true });
}

/** A `detected_at` PostgreSQL can compare with: a real instant of years 1 to 9999. */
const cursorSchema = z.tuple([
  z.string().regex(TS).refine((ts) => {
    const ms = Date.parse(ts);
    return isPostgresTime(ms) &&
      new Date(ms).toISOString().slice(0, 19) === ts.slice(0, 19); // not Feb 30, not 24:00
  }),
  z.string().min(1).max(500).refine((id) => !id.includes("\0")),
]);

/**
 * Decode a cursor from {@link encodeCursor}.
 *
 * @throws {RangeError} "Cannot read cursor: …" when it was not made by encodeCursor
 */
export function decodeCursor(text: string): Cursor {
  let parsed: unknown;
  try {
    // base64url; the standard alphabet's `+` and `/` are read too.
    const bytes = Uint8Array.fromBase64(text.replaceAll("-", "+").replaceAll("_", "/"));
    parsed = JSON.parse(strictUtf8(bytes) ?? ""); // not UTF-8: "" is no JSON either
  } catch {
    throw new RangeError("Cannot read cursor: not a cursor from next_cursor");
  }
  const cursor = cursorSchema.safeParse(parsed);
  if (!cursor.success) throw new RangeError("Cannot read cursor: not a cursor from next_cursor");
  return { ts: cursor.data[0], id: cursor.data[1] };
}
