import assert from "node:assert/strict";
import { createDirStore, gunzip, gzip } from "./store.ts";

Deno.test("createDirStore() writes the key layout and a retry replaces the object", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = createDirStore(dir);
    assert.equal(await store.check(), true);
    await store.put("raw/logs/dt=2025-01-01/hour=00/0-5.ndjson.gz", await gzip("a\n"));
    await store.put("raw/logs/dt=2025-01-01/hour=00/0-5.ndjson.gz", await gzip("a\nb\n"));
    const files = [...Deno.readDirSync(`${dir}/raw/logs/dt=2025-01-01/hour=00`)].map((e) => e.name);
    assert.deepEqual(files, ["0-5.ndjson.gz"]);
    const bytes = await Deno.readFile(`${dir}/raw/logs/dt=2025-01-01/hour=00/0-5.ndjson.gz`);
    assert.equal(await gunzip(bytes), "a\nb\n");
    await assert.rejects(store.put("../x", new Uint8Array()), /bad key/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
