import assert from "node:assert/strict";
import { contrastRatio } from "./contrast.ts";

Deno.test("contrastRatio() follows WCAG 2", () => {
  assert.equal(Math.round(contrastRatio("#000000", "#ffffff") * 10) / 10, 21);
  assert.equal(Math.round(contrastRatio("#ffffff", "#767676") * 100) / 100, 4.54);
  assert.equal(contrastRatio("#123456", "#123456"), 1);
});
