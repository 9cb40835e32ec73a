/**
 * Reading one entry of an event stream. The bridge is the one place events
 * are validated: it appends every event in one canonical form (the shared
 * schemas' output, `shared/schemas/canonical.ts`), so the detector parses
 * `data` with `JSON.parse` and trusts its types instead of validating again
 * (`entry_bench.ts` measures the difference). What is not such an entry at
 * all (written by hand, truncated) is rejected with a reason and
 * dead-lettered, never evaluated.
 *
 * @module
 */
import type { AnyEvent } from "@vigil/shared/schemas/event";

/** A stream entry, read. */
export interface ParsedEntry {
  id: string;
  event: AnyEvent;
  /** Event time (ms). */
  t: number;
  ingestTs: number;
  partition: number;
  offset: string;
  topic: string;
  /** The entry's W3C traceparent as written (the trace id is read from it only when a rule fires). */
  traceparent: string | undefined;
}

/** Result of {@link parseEntry}. */
export type EntryParse = { ok: true; entry: ParsedEntry } | { ok: false; reason: string };

const ZERO_TRACE = "0".repeat(32);
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/** The 32-hex trace id of a W3C traceparent, or null. */
export function traceIdOf(traceparent: string | undefined): string | null {
  if (!traceparent) return null;
  const m = TRACEPARENT.exec(
    traceparent.length === 55 ? traceparent : traceparent.trim().toLowerCase(),
  );
  return m && m[1] !== ZERO_TRACE ? m[1]! : null;
}

function invalid(reason: string): EntryParse {
  return { ok: false, reason: `invalid stream entry: ${reason}` };
}

/** Read one stream entry (`[field, value, …]`) written by the bridge. */
export function parseEntry(id: string, fields: readonly string[]): EntryParse {
  let data: string | undefined;
  let topic = "";
  let partition = 0;
  let offset = "";
  let ingestTs = 0;
  let traceparent: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const v = fields[i + 1]!;
    switch (fields[i]) {
      case "data":
        data = v;
        break;
      case "topic":
        topic = v;
        break;
      case "partition":
        partition = Number(v);
        break;
      case "offset":
        offset = v;
        break;
      case "ingest_ts":
        ingestTs = Number(v);
        break;
      case "traceparent":
        traceparent = v;
        break;
    }
  }
  if (data === undefined) return invalid("no data field");
  let event: AnyEvent;
  try {
    event = JSON.parse(data);
  } catch (error) {
    return invalid(`data is not JSON: ${(error as Error).message}`);
  }
  if (typeof event !== "object" || event === null || typeof event.timestamp !== "string") {
    return invalid("data is not an event with a timestamp");
  }
  const t = Date.parse(event.timestamp);
  if (!Number.isFinite(t)) return invalid(`unreadable timestamp ${event.timestamp.slice(0, 40)}`);
  return {
    ok: true,
    entry: {
      id,
      event,
      t,
      ingestTs: Number.isFinite(ingestTs) ? ingestTs : 0,
      partition: Number.isFinite(partition) ? partition : 0,
      offset,
      topic,
      traceparent,
    },
  };
}
