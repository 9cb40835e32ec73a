/**
 * `deno task bench:web`: the web service under load.
 *
 * 1. `/api/anomalies` latency (p50/p99 per query, over HTTP) with N rows
 *    (default 1,000,000) in `anomaly_events`, bulk-loaded with
 *    `generate_series` into a fresh database. Target: p99 ≤ 50 ms for a
 *    filtered first page.
 * 2. SSE fan-out: C clients (default 1,000) connected to `/api/live`; the
 *    time from `PUBLISH` until every client has the alert. Target ≤ 1 s.
 *
 * The web service runs as a child process (`web/main.ts`, as in production)
 * against the bench database and a unique Redis prefix; the bench process
 * only sends requests, holds the SSE clients and publishes. Everything it
 * creates is dropped at the end.
 *
 * Options: `--rows=N` (1000000), `--requests=R` per query (200),
 * `--clients=C` (1000), `--rounds=K` fan-out rounds (5),
 * `--out=PATH` (test-output/web_bench.json, plus a .md next to it).
 *
 * @module
 */
import { createKeys } from "@vigil/shared/keys";
import { migrate } from "@vigil/shared/migrate";
import { createRedis } from "@vigil/shared/redis";
import { testAlert } from "../testing/alert.ts";
import { createDatabase } from "../testing/pg.ts";
import { followLive } from "./_live_client.ts";
import { deletePrefix, TEST_REDIS_URL } from "../testing/redis.ts";
import { args, numberArg, print } from "./_cli.ts";

const ROWS = numberArg("rows", 1_000_000);
const REQUESTS = numberArg("requests", 200);
const CLIENTS = numberArg("clients", 1000);
const ROUNDS = numberArg("rounds", 5);
const OUT = args.out ?? "test-output/web_bench.json";
const P99_TARGET_MS = 50;
const FANOUT_TARGET_MS = 1000;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

// ------------------------------------------------------------------ data

const db = await createDatabase({ prefix: "vigil_bench_web", connections: 2 });
const { sql, database } = db;
const prefix = `bench-web-${crypto.randomUUID().slice(0, 8)}:`;
const keys = createKeys(prefix);
const redis = createRedis(TEST_REDIS_URL, { name: "bench-web" });
let child: Deno.ChildProcess | undefined;

/** Rules as the detector names them, each tied to its event type. */
const RULES = [
  ["metrics", "cpu_sustained"],
  ["metrics", "latency_threshold"],
  ["metrics", "cpu_latency"],
  ["metrics", "metric_score"],
  ["logs", "error_burst"],
  ["logs", "keyword"],
  ["logs", "level_spike"],
  ["transactions", "large_amount"],
  ["transactions", "user_frequency"],
  ["transactions", "status_zscore"],
] as const;
const ENTITIES = 2000;
const DAYS = 30;

try {
  await migrate(sql);
  const nowMs = Date.now();
  const started = performance.now();
  // One INSERT … SELECT generate_series (seeded random): severity skewed (60% INFO, 30% WARNING,
  // 10% CRITICAL), 80% resolved, 10% acknowledged, spread over the last 30 days.
  const rulesArray = `ARRAY[${RULES.map(([, r]) => `'${r}'`).join(",")}]`;
  const typesArray = `ARRAY[${RULES.map(([t]) => `'${t}'`).join(",")}]`;
  await sql.begin(async (tx) => {
    await tx`SELECT setseed(0.42)`;
    await tx.unsafe(`
    INSERT INTO anomaly_events (id, detected_at, event_time, type, rule, severity, entity,
      title, message, score, evidence, details, resolved_at, acknowledged_at, acknowledged_by,
      published_at)
    SELECT 'bench-' || g,
      d, d - interval '2 seconds',
      (${typesArray})[1 + g % ${RULES.length}],
      (${rulesArray})[1 + g % ${RULES.length}],
      CASE WHEN h < 60 THEN 'INFO' WHEN h < 90 THEN 'WARNING' ELSE 'CRITICAL' END,
      'svc-' || floor(random() * ${ENTITIES})::int,
      'Anomaly ' || g, 'value ' || (g % 1000) || ' above threshold 500', (g % 100) / 10.0,
      '[]'::jsonb, jsonb_build_object('value', g % 1000, 'threshold', 500),
      CASE WHEN h % 5 <> 0 THEN d + interval '5 minutes' END,
      CASE WHEN h % 10 = 0 THEN d + interval '1 minute' END,
      CASE WHEN h % 10 = 0 THEN 'bench' END,
      d
    FROM (
      SELECT g, to_timestamp((${nowMs} - (g::bigint * ${
      DAYS * 86_400_000
    } / ${ROWS})) / 1000.0) AS d,
        floor(random() * 100)::int AS h
      FROM generate_series(1, ${ROWS}) AS g
    ) s`);
  });
  await sql`ANALYZE anomaly_events`;
  const loadMs = performance.now() - started;
  print(`loaded ${ROWS.toLocaleString()} rows in ${(loadMs / 1000).toFixed(1)} s (${database})`);

  // ---------------------------------------------------------------- server
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../../web/main.ts", import.meta.url).pathname],
    env: {
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      VIGIL_PREFIX: prefix,
      WEB_PORT: "0",
      WEB_MAX_SSE_CLIENTS: String(CLIENTS + 100),
      WEB_HEARTBEAT_INTERVAL: "30s",
      LOG_LEVEL: "info",
    },
    stdout: "piped",
    stderr: "inherit",
  });
  child = cmd.spawn();
  const port = await (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const { value, done } = await lines.read();
      if (done) break;
      buf += value;
      const m = /"msg":"web listening"[^\n]*"port":(\d+)/.exec(buf);
      if (m) {
        // Keep draining the child's log so it never blocks on a full pipe.
        (async () => {
          while (!(await lines.read()).done) { /* discard */ }
        })().catch(() => {});
        return Number(m[1]);
      }
    }
    throw new Error(`Cannot start web: no "web listening" line in its log:\n${buf}`);
  })();
  const base = `http://127.0.0.1:${port}`;
  print(`web service on ${base}`);

  // ---------------------------------------------------------------- API latency
  const day = 86_400_000;
  // [name, query, held to the first-page target]
  const table: [string, string, boolean][] = [
    ["no filter", "limit=50", false],
    ["type", "type=metrics&limit=50", true],
    ["severity=CRITICAL", "severity=CRITICAL&limit=50", true],
    ["type+severity list", "type=logs,transactions&severity=WARNING,CRITICAL&limit=50", true],
    ["rule+open", "rule=cpu_latency&resolved=false&limit=50", true],
    ["entity", "entity=svc-42&limit=50", true],
    ["entity+severity", "entity=svc-1234&severity=CRITICAL&limit=50", true],
    [
      "time range (day 10)+type",
      `from=${nowMs - 11 * day}&to=${nowMs - 10 * day}&type=transactions&limit=50`,
      true,
    ],
    ["open+unacked", "resolved=false&acknowledged=false&limit=50", true],
    // Reported, not held to the first-page target: 10x the default page size.
    ["rule=keyword, max page", "rule=keyword&limit=500", false],
    // Worst cases: few or no rows match, so an index on one column alone would scan far.
    ["rare: crit+open+acked", "severity=CRITICAL&resolved=false&acknowledged=true&limit=50", true],
    ["empty: rule of other type", "rule=keyword&type=metrics&limit=50", true],
  ];
  const queries = table.map(([name, query, filtered]) => ({ name, query, filtered }));
  const latency: {
    name: string;
    query: string;
    filtered: boolean;
    rows: number;
    p50_ms: number;
    p99_ms: number;
    max_ms: number;
  }[] = [];
  for (const q of queries) {
    const url = `${base}/api/anomalies?${q.query}`;
    let rows = 0;
    for (let i = 0; i < 10; i++) {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}: ${await res.text()}`);
      rows = ((await res.json()) as { items: unknown[] }).items.length;
    }
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      const res = await fetch(url);
      await res.arrayBuffer();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const r = {
      ...q,
      rows,
      p50_ms: round1(quantile(times, 0.5)),
      p99_ms: round1(quantile(times, 0.99)),
      max_ms: round1(times[times.length - 1]!),
    };
    latency.push(r);
    print(
      `GET /api/anomalies ${q.name.padEnd(26)} rows ${String(rows).padStart(3)}  p50 ${
        r.p50_ms.toFixed(1).padStart(6)
      } ms  p99 ${r.p99_ms.toFixed(1).padStart(6)} ms`,
    );
  }
  // Deep paging: follow next_cursor 20 pages into a filtered list.
  {
    const times: number[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 20; i++) {
      const url: string = `${base}/api/anomalies?type=metrics&limit=100${
        cursor ? `&cursor=${cursor}` : ""
      }`;
      const t = performance.now();
      const body = (await (await fetch(url)).json()) as { next_cursor: string | null };
      times.push(performance.now() - t);
      cursor = body.next_cursor;
    }
    times.sort((a, b) => a - b);
    const r = {
      name: "cursor pages 1-20 (type)",
      query: "type=metrics&limit=100&cursor=…",
      filtered: true,
      rows: 100,
      p50_ms: round1(quantile(times, 0.5)),
      p99_ms: round1(quantile(times, 0.99)),
      max_ms: round1(times[times.length - 1]!),
    };
    latency.push(r);
    print(
      `GET /api/anomalies ${r.name.padEnd(26)} rows 100  p50 ${
        r.p50_ms.toFixed(1).padStart(6)
      } ms  p99 ${r.p99_ms.toFixed(1).padStart(6)} ms`,
    );
  }

  // ---------------------------------------------------------------- SSE fan-out
  const clients: { seen: Map<string, number>; abort: AbortController }[] = [];
  const waiters = new Set<() => void>();
  const connectStarted = performance.now();
  const ready: Promise<void>[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const abort = new AbortController();
    const client = { seen: new Map<string, number>(), abort };
    clients.push(client);
    ready.push(followLive(`${base}/api/live`, {
      signal: abort.signal,
      alertId: /^event: alert\ndata: \{"id":"([^"]+)"/,
      onAlert(id, at) {
        client.seen.set(id, at);
        for (const w of waiters) w();
      },
    }));
  }
  await Promise.all(ready);
  const connectMs = performance.now() - connectStarted;
  const health = (await (await fetch(`${base}/api/health`)).json()) as { live_clients: number };
  print(
    `${CLIENTS} live clients connected in ${
      (connectMs / 1000).toFixed(2)
    } s (server counts ${health.live_clients})`,
  );

  const fanout: { round: number; all_ms: number; p50_ms: number; p99_ms: number }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const id = `bench-alert-${round}-${crypto.randomUUID().slice(0, 8)}`;
    const alert = testAlert({ id, entity: "svc-1" });
    const allSeen = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (clients.every((c) => c.seen.has(id))) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        const missing = clients.filter((c) => !c.seen.has(id)).length;
        reject(new Error(`Cannot finish fan-out: ${missing} clients without the alert after 10 s`));
      }, 10_000);
      waiters.add(check);
    });
    const t0 = performance.now();
    await redis.publish(keys.alertsChannel(), JSON.stringify(alert));
    await allSeen;
    const arrivals = clients.map((c) => c.seen.get(id)! - t0).sort((a, b) => a - b);
    const r = {
      round,
      all_ms: round1(arrivals[arrivals.length - 1]!),
      p50_ms: round1(quantile(arrivals, 0.5)),
      p99_ms: round1(quantile(arrivals, 0.99)),
    };
    fanout.push(r);
    print(
      `fan-out round ${round}: all ${CLIENTS} clients in ${r.all_ms.toFixed(1)} ms (p50 ${
        r.p50_ms.toFixed(1)
      } ms, p99 ${r.p99_ms.toFixed(1)} ms)`,
    );
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const c of clients) c.abort.abort();

  // ---------------------------------------------------------------- report
  const filtered = latency.filter((l) => l.filtered);
  const worstP99 = Math.max(...filtered.map((l) => l.p99_ms));
  const worstFanout = Math.max(...fanout.map((f) => f.all_ms));
  const pass = { api_p99: worstP99 <= P99_TARGET_MS, fanout: worstFanout <= FANOUT_TARGET_MS };
  const result = {
    when: new Date().toISOString(),
    rows: ROWS,
    load_seconds: round1(loadMs / 1000),
    requests_per_query: REQUESTS,
    api: latency,
    worst_filtered_p99_ms: worstP99,
    sse: { clients: CLIENTS, connect_seconds: round1(connectMs / 1000), rounds: fanout },
    worst_fanout_ms: worstFanout,
    targets: { api_p99_ms: P99_TARGET_MS, fanout_ms: FANOUT_TARGET_MS },
    pass,
  };
  await Deno.mkdir(OUT.slice(0, Math.max(0, OUT.lastIndexOf("/"))) || ".", { recursive: true });
  await Deno.writeTextFile(OUT, JSON.stringify(result, null, 2) + "\n");
  const md = [
    `| query (${ROWS.toLocaleString()} rows) | rows | p50 ms | p99 ms |`,
    "|---|---:|---:|---:|",
    ...latency.map((l) => `| ${l.name} | ${l.rows} | ${l.p50_ms} | ${l.p99_ms} |`),
    "",
    `| SSE fan-out (${CLIENTS} clients) | all reached ms | p50 ms | p99 ms |`,
    "|---|---:|---:|---:|",
    ...fanout.map((f) => `| round ${f.round} | ${f.all_ms} | ${f.p50_ms} | ${f.p99_ms} |`),
    "",
  ].join("\n");
  await Deno.writeTextFile(OUT.replace(/\.json$/, "") + ".md", md);
  print(
    `worst filtered p99 ${worstP99} ms (target ≤ ${P99_TARGET_MS}: ${
      pass.api_p99 ? "PASS" : "FAIL"
    }); worst fan-out ${worstFanout} ms (target ≤ ${FANOUT_TARGET_MS}: ${
      pass.fanout ? "PASS" : "FAIL"
    }); written to ${OUT}`,
  );
} finally {
  if (child) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  }
  await deletePrefix(redis, prefix).catch(() => {});
  redis.disconnect();
  await db.drop();
}
