import assert from "node:assert/strict";
import { escapeGlob } from "./series.ts";

Deno.test("escapeGlob() escapes every Redis glob character", () => {
  assert.equal(escapeGlob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
});
