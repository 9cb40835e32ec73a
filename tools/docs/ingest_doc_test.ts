/**
 * docs/ingest.md's producer options name every scenario the producer has, in
 * the order `--scenario all` injects them.
 */
import assert from "node:assert/strict";
import { SCENARIOS } from "@vigil/producer/scenario_types";

const DOC = await Deno.readTextFile(new URL("../../docs/ingest.md", import.meta.url));

Deno.test("docs/ingest.md lists every producer scenario, in the order of all", () => {
  const row = DOC.split("\n").find((l) => l.startsWith("| `--scenario <names"));
  assert.ok(row, "the --scenario row of the options table");
  const names = [...row.split(/(?<!\\)\|/)[2]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
  assert.deepEqual(names, [...SCENARIOS]);
});
