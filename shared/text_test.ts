import assert from "node:assert/strict";
import { cutText } from "./text.ts";

Deno.test("cutText never leaves half a character", () => {
  assert.equal(cutText("abc", 5), "abc");
  assert.equal(cutText("abcdef", 3), "abc");
  assert.equal(cutText("ab😀cd", 3), "ab", "the emoji's two halves would straddle the cut");
  assert.equal(cutText("ab😀cd", 4), "ab😀");
  assert.equal(cutText("😀😀", 1), "");
  for (let n = 0; n <= 12; n++) assert.ok(cutText("x😀y😀😀z", n).isWellFormed(), String(n));
});
