/**
 * Test support: a real Redis Cluster of three masters, private to a test:
 * three `redis-server --cluster-enabled yes` processes in a temporary
 * folder, joined by `redis-cli --cluster create`, waited for until every
 * node reports `cluster_state:ok` with all 16384 slots, and torn down
 * after. Needs `redis-server` and `redis-cli` on PATH.
 *
 * @module
 */
import { createRedis } from "@vigil/shared/redis";
import { createKeys } from "@vigil/shared/keys";
import type { RedisTestContext } from "./redis.ts";
import { ping } from "./redis_server.ts";
import { waitFor } from "./wait.ts";

/** A running test cluster. */
export interface RedisCluster {
  /** `127.0.0.1:<port>` of each master. */
  readonly nodes: readonly string[];
  /** The environment that points a service at it (`REDIS_CLUSTER_NODES`). */
  readonly env: Readonly<Record<string, string>>;
  /** Stop every node and remove their folders. Idempotent. */
  close(): Promise<void>;
}

/** Ports `p` with `p` and its cluster bus port `p + 10000` both free. */
function clusterPorts(n: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const p = 20_000 + Math.floor(Math.random() * 25_000);
    if (out.includes(p)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port: p }).close();
      Deno.listen({ hostname: "127.0.0.1", port: p + 10_000 }).close();
      out.push(p);
    } catch {
      // taken: try another
    }
  }
  return out;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`Cannot run ${cmd} ${args.join(" ")}: ${text.slice(-2000)}`);
  return text;
}

/** Is the cluster whole as `port` sees it: state ok, every slot served, every node known? */
async function clusterOk(port: number, masters: number): Promise<boolean> {
  const info = await run("redis-cli", ["-p", String(port), "cluster", "info"]).catch(() => "");
  return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) &&
    new RegExp(`cluster_known_nodes:${masters}\\b`).test(info);
}

/** Start a 3-master Redis Cluster on free ports (about a second). */
export async function startRedisCluster(options: { masters?: number } = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const dir = await Deno.makeTempDir({ prefix: "vigil-cluster-" });
  const ports = clusterPorts(masters);
  const children: Deno.ChildProcess[] = [];
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      for (const c of children) {
        try {
          c.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      await Promise.all(children.map((c) => c.status));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  try {
    for (const port of ports) {
      const nodeDir = `${dir}/${port}`;
      await Deno.mkdir(nodeDir);
      children.push(
        new Deno.Command("redis-server", {
          args: [
            ...["--port", String(port), "--bind", "127.0.0.1", "--dir", nodeDir],
            ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
            ...["--cluster-node-timeout", "3000", "--save", "", "--appendonly", "no"],
          ],
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    for (const port of ports) {
      await waitFor(() => ping(port), { timeoutMs: 10_000, intervalMs: 25, what: `node ${port}` });
    }
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    await run("redis-cli", ["--cluster", "create", ...nodes, "--cluster-yes"]);
    await waitFor(
      async () => (await Promise.all(ports.map((p) => clusterOk(p, masters)))).every(Boolean),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: "cluster_state:ok on every node",
      },
    );
    return { nodes, env: { REDIS_CLUSTER_NODES: nodes.join(",") }, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Run `fn` with a fresh cluster, a cluster client and keys under a unique
 * prefix, like `withRedis`; the cluster is stopped after (nothing to delete).
 */
export async function withRedisCluster<T>(
  fn: (ctx: RedisTestContext & { cluster: RedisCluster }) => Promise<T>,
): Promise<T> {
  const cluster = await startRedisCluster();
  const prefix = `test-${crypto.randomUUID().slice(0, 8)}:`;
  const connection = { url: "redis://127.0.0.1", clusterNodes: cluster.nodes };
  const redis = createRedis(connection, { name: "test" });
  try {
    await waitFor(() => redis.status === "ready", {
      timeoutMs: 10_000,
      what: "cluster client ready",
    });
    return await fn({
      redis,
      keys: createKeys(prefix),
      prefix,
      connection,
      env: { ...cluster.env },
      cluster,
    });
  } finally {
    redis.disconnect();
    await cluster.close();
  }
}
