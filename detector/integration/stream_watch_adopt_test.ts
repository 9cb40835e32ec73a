/**
 * The stream watch against the real PostgreSQL and Redis: a stream-level
 * alert stored before a restart is taken over and resolved when the stream
 * reports again, however many per-entity `no_data` alerts are open.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/shared/log";
import { withStoreAndRedis } from "./_harness.ts";
import { DEFAULT_RULES } from "../core/rules_config.ts";
import type { Firing, Resolution } from "../core/rules/types.ts";
import { checkStream, createStreamSilence } from "../core/stream_silence.ts";
import { runStreamWatch } from "../io/stream_watch.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "stream watch: the stored stream alert resolves after a restart behind 1000+ entity no_data alerts",
  opts,
  () =>
    withStoreAndRedis(async ({ redis, keys, store }) => {
      const config = DEFAULT_RULES.no_data.stream;
      // The logs stream went quiet: its alert is stored (then the detector restarts).
      const quietSince = Date.now() - 3_600_000;
      const [stream] = checkStream(
        createStreamSilence(quietSince - 1),
        "logs",
        quietSince,
        quietSince + config.after,
        config,
      ) as Firing[];
      assert.ok(stream);
      await store.insert([stream], "");
      // Meanwhile 1001 metrics entities went silent, each with its own alert (newer).
      const entities: Firing[] = Array.from({ length: 1001 }, (_, i) => ({
        ...stream,
        id: `e${i}`,
        type: "metrics",
        entity: `svc-${i}`,
        severity: "WARNING",
        details: { after_ms: 600_000 },
      }));
      await store.insert(entities, "vigil:events:metrics:0");
      // The logs stream is back.
      await redis.xadd(keys.events("logs", 0), "*", "x", "1");

      const controller = new AbortController();
      const resolved: Resolution[] = [];
      const watch = runStreamWatch({
        redis,
        keys,
        partitions: 1,
        rules: () => DEFAULT_RULES,
        store,
        owns: (type) => type === "logs",
        emit(_firings, resolutions) {
          resolved.push(...resolutions);
          controller.abort();
          return Promise.resolve();
        },
        log: silentLogger(),
        intervalMs: 50,
      }, controller.signal);
      setTimeout(() => controller.abort(), 2000);
      await watch;
      assert.deepEqual(resolved.map((r) => r.ids), [[stream.id]]);
    }),
);
