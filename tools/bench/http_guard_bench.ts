/**
 * `deno task bench:http`: what the request-head guard (shared/http/serve.ts)
 * costs, against plain `Deno.serve` (`headerTimeoutMs: 0`), on the same
 * small Hono app run in a child process:
 *
 * - keep-alive requests one after another: p50/p99 latency and the server's
 *   CPU per request;
 * - server-sent events: C clients (default 1,000) connect, then each of 7
 *   messages is written to every client; connect time, time until every
 *   client has a message (median), the server's CPU per message and its
 *   memory per connection.
 *
 * Modes alternate (plain, guard, plain, …) `--rounds=R` times (default 3) so
 * that other load on the machine hits both alike; the table gives medians.
 * Options: `--clients=C`, `--requests=N` (2000), `--rounds=R`.
 *
 * @module
 */
import process from "node:process";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { serve } from "@vigil/shared/http/serve";
import { silentLogger } from "../testing/log.ts";
import { followLive } from "./_live_client.ts";
import { args, numberArg, print } from "./_cli.ts";

/** Child: serve the app in `mode` and print the port. */
function runServer(mode: string): void {
  const clients = new Set<(data: string) => Promise<void>>();
  const app = new Hono();
  app.get("/live", (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ event: "hello", data: "x" });
      const write = (data: string) => stream.writeSSE({ event: "alert", data });
      clients.add(write);
      await new Promise<void>((resolve) =>
        stream.onAbort(() => {
          clients.delete(write);
          resolve();
        })
      );
    }));
  const items = Array.from({ length: 50 }, (_, i) => ({ id: i, title: `anomaly ${i}` }));
  app.get("/", (c) => c.json({ items }));
  app.post("/publish", async (c) => {
    const data = await c.req.text();
    for (const write of clients) write(data);
    return c.json({ clients: clients.size });
  });
  app.get("/usage", (c) => {
    const cpu = process.cpuUsage();
    return c.json({ rss: Deno.memoryUsage().rss, cpu_us: cpu.user + cpu.system });
  });
  const server = serve(app, {
    port: 0,
    log: silentLogger(),
    headerTimeoutMs: mode === "plain" ? 0 : 10_000,
  });
  print(String(server.port));
}

interface Sample {
  p50_us: number;
  p99_us: number;
  cpu_per_request_us: number;
  connect_ms: number;
  fanout_ms: number;
  cpu_per_message_ms: number;
  kb_per_connection: number;
}

async function measure(port: number, clientCount: number, requests: number): Promise<Sample> {
  const base = `http://127.0.0.1:${port}`;
  const usage = async () =>
    (await (await fetch(`${base}/usage`)).json()) as { rss: number; cpu_us: number };
  for (let i = 0; i < 300; i++) await (await fetch(base)).arrayBuffer();
  const cpu0 = (await usage()).cpu_us;
  const latency: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    await (await fetch(base)).arrayBuffer();
    latency.push(performance.now() - t);
  }
  latency.sort((a, b) => a - b);
  const before = await usage();
  const seen: Map<string, number>[] = [];
  let check = () => {};
  const aborts: AbortController[] = [];
  const connectStarted = performance.now();
  await Promise.all(Array.from({ length: clientCount }, async () => {
    const got = new Map<string, number>();
    seen.push(got);
    const abort = new AbortController();
    aborts.push(abort);
    await followLive(`${base}/live`, {
      signal: abort.signal,
      alertId: /^event: alert\ndata: (\S+)/,
      onAlert(id, at) {
        got.set(id, at);
        check();
      },
    });
  }));
  const connectMs = performance.now() - connectStarted;
  const connected = await usage();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const id = `m${r}`;
    const all = new Promise<void>((resolve) => {
      check = () => {
        if (seen.every((m) => m.has(id))) resolve();
      };
    });
    const t0 = performance.now();
    await (await fetch(`${base}/publish`, { method: "POST", body: id })).arrayBuffer();
    await all;
    rounds.push(Math.max(...seen.map((m) => m.get(id)!)) - t0);
    await new Promise((r) => setTimeout(r, 200));
  }
  const after = await usage();
  for (const a of aborts) a.abort();
  rounds.sort((a, b) => a - b);
  return {
    p50_us: Math.round(latency[Math.floor(latency.length / 2)]! * 1000),
    p99_us: Math.round(latency[Math.floor(latency.length * 0.99)]! * 1000),
    cpu_per_request_us: Math.round((before.cpu_us - cpu0) / requests),
    connect_ms: Math.round(connectMs),
    fanout_ms: Math.round(rounds[3]!),
    // Includes the 7 /publish requests and the 8 /usage requests (negligible next to 1,000 writes).
    cpu_per_message_ms: Math.round((after.cpu_us - connected.cpu_us) / 7 / 100) / 10,
    kb_per_connection: Math.round((connected.rss - before.rss) / clientCount / 1024),
  };
}

async function runBench(): Promise<void> {
  const clientCount = numberArg("clients", 1000);
  const requests = numberArg("requests", 2000);
  const roundCount = numberArg("rounds", 3);
  const samples: Record<string, Sample[]> = { plain: [], guard: [] };
  for (let round = 0; round < roundCount; round++) {
    for (const mode of ["plain", "guard"]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", new URL(import.meta.url).pathname, `--server=${mode}`],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const port = Number((await lines.read()).value?.trim());
      try {
        const s = await measure(port, clientCount, requests);
        samples[mode]!.push(s);
        print(`${mode} ${JSON.stringify(s)}`);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await lines.cancel().catch(() => {});
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  print(`\n| median of ${roundCount} runs | plain Deno.serve | guard | guard − plain |`);
  print("|---|---:|---:|---:|");
  for (const key of Object.keys(samples.plain![0]!) as (keyof Sample)[]) {
    const p = median(samples.plain!.map((s) => s[key]));
    const g = median(samples.guard!.map((s) => s[key]));
    print(`| ${key} | ${p} | ${g} | ${Math.round((g - p) * 10) / 10} |`);
  }
}

if (args.server) runServer(args.server);
else await runBench();
