import assert from "node:assert/strict";
import { colorEnabled, paint } from "./color.ts";

Deno.test("colorEnabled() only on a terminal, and never with NO_COLOR set", () => {
  assert.equal(colorEnabled({ isTerminal: true }), true);
  assert.equal(colorEnabled({ isTerminal: false }), false);
  assert.equal(colorEnabled({ isTerminal: true, noColor: "1" }), false);
  assert.equal(colorEnabled({ isTerminal: true, noColor: "0" }), false, "any non-empty value");
  assert.equal(colorEnabled({ isTerminal: true, noColor: "" }), true, "empty means unset");
});

Deno.test("paint() wraps in SGR codes only when enabled", () => {
  assert.equal(paint("web |", "34", true), "\x1b[34mweb |\x1b[0m");
  assert.equal(paint("web |", "34", false), "web |");
});
