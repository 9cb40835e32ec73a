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
import { STATISTICAL_SCENARIOS } from "../../producer/generator.ts";

function freePort(): number {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken, try another */ }
  }
}

const say = (text: string) => Deno.stdout.write(new TextEncoder().encode(text + "\n"));

if (import.meta.main) {
  await withPg(async ({ url, sql }) => {
    await withRedis(async ({ prefix }) => {
      const ports = {
        PRODUCER_PORT: freePort(),
        BRIDGE_PORT: freePort(),
        DETECTOR_PORT: freePort(),
        NOTIFIER_PORT: freePort(),
        ARCHIVE_PORT: freePort(),
        WEB_PORT: freePort(),
      };
      const env: Record<string, string> = {
        VIGIL_PREFIX: prefix,
        DATABASE_URL: url,
        KAFKA_DEV_PARTITIONS: "2",
        LOG_LEVEL: "warn",
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      };
      const child = new Deno.Command("setsid", {
        args: [Deno.execPath(), "task", "dev"],
        env,
        stdout: "null",
        stderr: "null",
        stdin: "null",
      }).spawn();
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
