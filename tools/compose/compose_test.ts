/**
 * compose.yaml and its Redis Cluster override are valid Compose files, as
 * `docker-compose config` (Debian's package; it needs no Docker engine) reads
 * them, and the override points every Redis user at the cluster.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

async function composeConfig(...files: string[]): Promise<string> {
  const args = files.flatMap((f) => ["-f", f]);
  const out = await new Deno.Command("docker-compose", {
    args: [...args, "config"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `docker-compose ${args.join(" ")} config failed:\n${err}`);
  return new TextDecoder().decode(out.stdout);
}

/** The names of the services of a `docker-compose config` output (two-space indented keys). */
function servicesOf(config: string): Map<string, string> {
  const body = config.slice(config.indexOf("\nservices:\n") + 11);
  const services = new Map<string, string>();
  for (const block of body.split(/\n(?=  [a-z][\w-]*:\n)/)) {
    const name = /^ {2}([a-z][\w-]*):\n/.exec(block.startsWith("  ") ? block : `  ${block}`)?.[1];
    if (name) services.set(name, block);
    if (/\n[a-z]/.test(block)) break; // the next top-level key (volumes:)
  }
  return services;
}

Deno.test("compose.yaml is valid and starts every Vigil service", async () => {
  const services = servicesOf(await composeConfig("compose.yaml"));
  for (const name of ["producer", "bridge", "archive", "detector", "notifier", "web"]) {
    assert.ok(services.has(name), `service ${name}`);
    assert.match(
      services.get(name)!,
      new RegExp(`- task\\n\\s+- ${name}\\n`),
      `${name} runs deno task ${name}`,
    );
  }
  assert.ok(!services.has("redis-node-1"), "the cluster nodes belong to the override only");
});

Deno.test("tools/compose/cluster.yaml puts the bridge, detector, notifier and web on a 3-master cluster", async () => {
  const services = servicesOf(await composeConfig("compose.yaml", "tools/compose/cluster.yaml"));
  for (const n of [1, 2, 3]) assert.ok(services.has(`redis-node-${n}`), `redis-node-${n}`);
  assert.match(services.get("redis-cluster-init")!, /--cluster-yes/);
  for (const name of ["bridge", "detector", "notifier", "web"]) {
    const block = services.get(name)!;
    assert.match(
      block,
      /REDIS_CLUSTER_NODES: redis-node-1:6379,redis-node-2:6379,redis-node-3:6379/,
      name,
    );
    assert.match(block, /redis-cluster-init:\n\s+condition: service_completed_successfully/, name);
  }
  for (const name of ["bridge", "detector"]) {
    assert.match(services.get(name)!, /VIGIL_PARTITIONS: '6'/, `${name} partitions`);
  }
});
