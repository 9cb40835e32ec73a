import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { createGapTracker } from "@vigil/shared/kafka_gaps";
import type { Kafka } from "kafkajs";
import { createArchiveProgress } from "./progress.ts";
import { createDirStore } from "./store.ts";

/** A progress record in a temporary folder; no gap is ever looked up (no admin). */
function progressIn(dir: string) {
  const store = createDirStore(dir);
  const gaps = createGapTracker({
    kafka: {} as Pick<Kafka, "admin">,
    log: silentLogger(),
    metrics: new Registry(),
    service: "archive",
    gapWarnMs: 3_600_000,
    now: () => 0,
  });
  return createArchiveProgress({
    store,
    prefix: "raw",
    gaps,
    put: (key, body) => store.put(key, body),
    now: () => 1,
  });
}

Deno.test(
  "createArchiveProgress(): a log that starts again never takes an earlier log's name",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-archive-progress-" });
    try {
      // The same messages replayed into each new log (a restarted dev Kafka, a CSV replayed with
      // its own timestamps): every log's first message has the same Kafka time T.
      const T = 1_767_225_600_000;
      const names: number[] = [];
      for (let run = 0; run < 4; run++) {
        const progress = progressIn(dir); // a restart reads the record again
        const batch = { first: 0n, highWatermark: run === 0 ? 50n : 10n, firstTimestamp: T };
        assert.equal(
          await progress.check("logs", 0, batch),
          run === 0 ? "ok" : "reset",
          `run ${run}`,
        );
        names.push(progress.logOf("logs", 0));
        progress.expect("logs", 0, 50n);
        await progress.save("logs", 0, "50");
      }
      // Objects are keyed `<partition>-<first>.log<name>` in the folder of their first
      // message's time: a repeated name replaces the objects of an earlier log.
      assert.equal(new Set(names).size, names.length, `log names ${names.join(", ")}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
