/**
 * On a Redis Cluster, `redisHealth` sent its PING to whichever node ioredis
 * picked: with one master hung and the cluster down (`cluster_state:fail`,
 * every write refused) every service's `/health` still said `redis: ok` two
 * times in three. It asks every master now, and names the one that does not
 * answer and the state the others report.
 */
import assert from "node:assert/strict";
import { redisHealth } from "@vigil/shared/redis";
import { runHealthChecks } from "@vigil/shared/http/ops_app";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { waitFor } from "@vigil/tools/testing/wait";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function clusterState(port: string): Promise<string> {
  const out = await new Deno.Command("redis-cli", { args: ["-p", port, "cluster", "info"] })
    .output();
  return /cluster_state:(\w+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? "";
}

async function serverPid(port: string): Promise<number> {
  const out = await new Deno.Command("redis-cli", { args: ["-p", port, "info", "server"] })
    .output();
  return Number(/process_id:(\d+)/.exec(new TextDecoder().decode(out.stdout))?.[1]);
}

Deno.test(
  "redisHealth() on a cluster fails while a master hangs and the cluster is down",
  opts,
  async () => {
    await withRedisCluster(async ({ redis, cluster }) => {
      const check = () => runHealthChecks({ redis: () => redisHealth(redis) }, { timeoutMs: 2000 });
      assert.equal((await check()).checks.redis, "ok");

      const [hung, other] = cluster.nodes.map((n) => n.split(":")[1]!);
      const pid = await serverPid(hung!);
      Deno.kill(pid, "SIGSTOP");
      try {
        await waitFor(async () => (await clusterState(other!)) === "fail", {
          timeoutMs: 20_000,
          intervalMs: 200,
          what: "cluster_state:fail",
        });
        for (let i = 0; i < 6; i++) {
          const health = await check();
          assert.equal(health.checks.redis, "fail", JSON.stringify(health));
          const message = (health.details.redis as { message: string }).message;
          assert.match(message, new RegExp(`127\\.0\\.0\\.1:${hung}: no answer`));
          assert.match(message, /cluster_state:fail/);
        }
      } finally {
        Deno.kill(pid, "SIGCONT");
      }
      await waitFor(async () => (await check()).checks.redis === "ok", {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: "redis ok again",
      });
    });
  },
);
