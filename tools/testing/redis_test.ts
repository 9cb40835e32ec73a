import assert from "node:assert/strict";
import { type ScanClient, scanKeys } from "./redis.ts";

Deno.test("scanKeys() scans every master of a cluster to the end", async () => {
  const node = (pages: string[][]): ScanClient => ({
    scan(cursor) {
      const i = Number(cursor);
      return Promise.resolve([i + 1 < pages.length ? String(i + 1) : "0", pages[i]!]);
    },
  });
  const masters = [node([["a"], [], ["b"]]), node([["c"]])];
  const cluster: ScanClient = { ...node([["x"]]), isCluster: true, nodes: () => masters };
  const all: string[] = [];
  for await (const batch of scanKeys(cluster, "*")) all.push(...batch);
  assert.deepEqual(all, ["a", "b", "c"]);
  const single: string[] = [];
  for await (const batch of scanKeys(node([["x"], ["y"]]), "*")) single.push(...batch);
  assert.deepEqual(single, ["x", "y"]);
});
