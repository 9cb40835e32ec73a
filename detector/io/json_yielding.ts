/**
 * `JSON.stringify` for large states without blocking the event loop for the
 * whole time: arrays longer than a chunk are serialised a chunk at a time,
 * yielding to other tasks (the other streams' batches, the HTTP API)
 * whenever `budgetMs` of work has passed. The caller must not change `value`
 * meanwhile (the detector checkpoints a stream between two of its batches).
 *
 * @module
 */

const CHUNK = 2048;

/** The same text as `JSON.stringify(value)` for plain data (objects, arrays, numbers, strings). */
export async function stringifyYielding(value: unknown, budgetMs = 5): Promise<string> {
  const parts: string[] = [];
  let since = performance.now();
  const pause = async () => {
    if (performance.now() - since < budgetMs) return;
    await new Promise((r) => setTimeout(r, 0));
    since = performance.now();
  };
  async function walk(v: unknown): Promise<void> {
    if (
      Array.isArray(v) && v.length <= CHUNK && v.some((x) => x !== null && typeof x === "object")
    ) {
      // Few but possibly large elements (a series' state each): one at a time.
      parts.push("[");
      for (let i = 0; i < v.length; i++) {
        if (i > 0) parts.push(",");
        await walk(v[i]);
        await pause();
      }
      parts.push("]");
      return;
    }
    if (Array.isArray(v) && v.length > CHUNK) {
      parts.push("[");
      for (let i = 0; i < v.length; i += CHUNK) {
        if (i > 0) parts.push(",");
        const text = JSON.stringify(v.slice(i, i + CHUNK));
        parts.push(text.slice(1, -1));
        await pause();
      }
      parts.push("]");
      return;
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v) && v.constructor === Object) {
      parts.push("{");
      let first = true;
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined || typeof x === "function" || typeof x === "symbol") continue;
        parts.push(`${first ? "" : ","}${JSON.stringify(k)}:`);
        first = false;
        await walk(x);
      }
      parts.push("}");
      return;
    }
    parts.push(JSON.stringify(v) ?? "null");
  }
  await walk(value);
  return parts.join("");
}
