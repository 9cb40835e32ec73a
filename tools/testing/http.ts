/**
 * Checks of a running service's HTTP answers (integration tests).
 *
 * @module
 */
import assert from "node:assert/strict";

/** One case: a method and path, the status it answers and its `Allow` header (null: none). */
export type MethodCase = readonly [
  method: string,
  path: string,
  status: number,
  allow: string | null,
];

/** Assert the status and `Allow` header each of `cases` gets from the server at `base`. */
export async function assertMethodAnswers(base: string, cases: readonly MethodCase[]) {
  for (const [method, path, status, allow] of cases) {
    const res = await fetch(`${base}${path}`, { method });
    await res.body?.cancel();
    assert.equal(res.status, status, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
  }
}
