import assert from "node:assert/strict";
import { silentLogger } from "./log.ts";

Deno.test("silentLogger() writes nothing, not even errors", () => {
  const original = Deno.stdout.writeSync;
  let writes = 0;
  Deno.stdout.writeSync = (bytes) => {
    writes++;
    return bytes.length;
  };
  try {
    const log = silentLogger();
    log.error("nothing");
    log.with({ stream: "logs" }).error("nothing");
  } finally {
    Deno.stdout.writeSync = original;
  }
  assert.equal(writes, 0);
});
