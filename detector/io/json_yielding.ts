/**
 * `JSON.stringify` for large states without blocking the event loop for the
 * whole time, and without holding the whole text at once: arrays longer
 * than a slice are serialised a slice at a time, yielding to other tasks
 * (the other streams' batches, the HTTP API) whenever `budgetMs` of work
 * has passed, and {@link jsonChunks} hands the text out in chunks of about
 * `chunkChars` (the detector writes each chunk of a checkpoint to Redis
 * before making the next, so one chunk is in memory at a time, not the whole
 * text). The caller must not change `value` meanwhile (the detector
 * checkpoints a stream between two of its batches; values with a `toJSON`
 * are serialised when reached).
 *
 * @module
 */

/**
 * Arrays of at most this many elements that hold objects are walked element
 * by element (few but possibly large elements: a series' state each).
 */
const FEW = 64;
/**
 * Characters a slice of a long array aims at. Pieces, and chunks of
 * `chunkChars` + one piece, stay under V8's large-object size (128 KiB):
 * they are born and die in the young generation. Strings above it go
 * straight to the old generation, where tens of MB of checkpoint text every
 * few seconds made the heap grow and collect (issue 13).
 */
const PIECE_CHARS = 16 * 1024;
/** Most elements in one slice. */
const MAX_SLICE = 4096;

/** Options of {@link jsonChunks}. */
export interface JsonChunksOptions {
  /** A chunk is handed out once it holds at least this many characters. @default {65536} */
  chunkChars?: number;
  /** Yield to other tasks after this much work (ms). @default {5} */
  budgetMs?: number;
}

/**
 * The text of `JSON.stringify(value)` (plain data: objects, arrays, numbers,
 * strings, values with `toJSON`) in consecutive chunks.
 */
export async function* jsonChunks(
  value: unknown,
  options: JsonChunksOptions = {},
): AsyncGenerator<string, void, void> {
  const chunkChars = options.chunkChars ?? 1 << 16;
  const budgetMs = options.budgetMs ?? 5;
  let parts: string[] = [];
  let size = 0;
  let since = performance.now();
  const push = (s: string) => {
    parts.push(s);
    size += s.length;
  };
  function* full(): Generator<string, void, void> {
    if (size < chunkChars) return;
    const chunk = parts.join("");
    parts = [];
    size = 0;
    yield chunk;
  }
  const pause = async () => {
    if (performance.now() - since < budgetMs) return;
    await new Promise((r) => setTimeout(r, 0));
    since = performance.now();
  };
  async function* walk(v: unknown): AsyncGenerator<string, void, void> {
    if (Array.isArray(v) && v.length <= FEW && v.some((x) => x !== null && typeof x === "object")) {
      push("[");
      for (let i = 0; i < v.length; i++) {
        if (i > 0) push(",");
        yield* walk(v[i]);
        yield* full();
        await pause();
      }
      push("]");
      return;
    }
    if (Array.isArray(v) && v.length > FEW) {
      // Slices sized from the last one's text, so each is about PIECE_CHARS.
      push("[");
      let n = 1; // one at first: 16 large elements (metric_score series) can pass PIECE_CHARS
      for (let i = 0; i < v.length;) {
        if (i > 0) push(",");
        const text = JSON.stringify(v.slice(i, i + n));
        push(text.slice(1, -1));
        i += n;
        n = Math.max(1, Math.min(MAX_SLICE, Math.floor((n * PIECE_CHARS) / text.length)));
        yield* full();
        await pause();
      }
      push("]");
      return;
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v) && v.constructor === Object) {
      push("{");
      let first = true;
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined || typeof x === "function" || typeof x === "symbol") continue;
        push(`${first ? "" : ","}${JSON.stringify(k)}:`);
        first = false;
        yield* walk(x);
      }
      push("}");
      return;
    }
    push(JSON.stringify(v) ?? "null");
  }
  yield* walk(value);
  if (size > 0) yield parts.join("");
}
