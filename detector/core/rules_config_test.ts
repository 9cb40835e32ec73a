import assert from "node:assert/strict";
import { DEFAULT_RULES, parseRulesConfig } from "./rules_config.ts";

Deno.test("detector/rules.json as shipped holds exactly the defaults", async () => {
  const text = await Deno.readTextFile(new URL("../rules.json", import.meta.url));
  assert.deepEqual(parseRulesConfig(JSON.parse(text)), DEFAULT_RULES);
});
