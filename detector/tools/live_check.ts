/**
 * Live check of the statistical scenarios: runs `deno task dev` (what
 * `bash scripts/vigil.sh up` runs: dev Kafka, producer with every scenario
 * every 20 s, bridge, detector, notifier, web) with its own Redis prefix,
 * PostgreSQL database and ports, and polls `anomaly_events` until the engine's
 * alerts of the four statistical scenarios are there (at most 7 minutes);
 * prints when each appeared and every anomaly by rule, then stops the stack
 * with a Ctrl-C.
 *
 * ```
 * deno run --allow-all detector/tools/live_check.ts
 * ```
 *
 * Needs the local Redis and PostgreSQL, like the integration tests.
 *
 * @module
 */
import { withPg } from "@vigil/tools/testing/pg";
import { withRedis } from "@vigil/tools/testing/redis";
import { startDevStack } from "@vigil/tools/testing/dev_stack";
import { STATISTICAL_SCENARIOS } from "../../producer/scenario_types.ts";

const say = (text: string) => Deno.stdout.write(new TextEncoder().encode(text + "\n"));

if (import.meta.main) {
  await withPg(async ({ url, sql }) => {
    await withRedis(async ({ prefix }) => {
      const { child } = startDevStack({ prefix, url, output: "null" });
      const t0 = Date.now();
      const seen = new Set<string>();
      const wanted = STATISTICAL_SCENARIOS.map((s) => `svc-${s.replace("_", "-")}-`);
      try {
        while (Date.now() - t0 < 420_000) {
          await new Promise((r) => setTimeout(r, 10_000));
          try {
            const rows = await sql`SELECT rule, entity, severity FROM anomaly_events
              WHERE rule IN ('metric_score', 'entity_score') ORDER BY detected_at`;
            for (const r of rows) {
              const k = `${r.rule} ${r.entity} ${r.severity}`;
              if (seen.has(k)) continue;
              seen.add(k);
              await say(`${Math.round((Date.now() - t0) / 1000)} s: ${k}`);
            }
            if (wanted.every((w) => [...seen].some((k) => k.includes(w)))) break;
          } catch { /* not migrated yet */ }
        }
        const all = await sql`SELECT rule, count(*)::int AS n FROM anomaly_events
          GROUP BY rule ORDER BY rule`;
        await say(
          `after ${Math.round((Date.now() - t0) / 1000)} s, anomalies by rule: ${
            all.map((r) => `${r.rule} ${r.n}`).join(", ")
          }`,
        );
      } finally {
        try {
          Deno.kill(-child.pid, "SIGINT");
        } catch { /* gone */ }
        const timeout = new Promise<null>((r) => setTimeout(() => r(null), 15_000));
        if ((await Promise.race([child.status, timeout])) === null) {
          try {
            Deno.kill(-child.pid, "SIGKILL");
          } catch { /* gone */ }
          await child.status;
        }
      }
    });
  });
}
