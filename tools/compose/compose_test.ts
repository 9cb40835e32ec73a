/**
 * compose.yaml gives each service the settings it needs: the web reads the
 * archive's bucket (same S3_* values as the archive, so evidence lookups find
 * the objects), the notifier has WEBHOOK_URL, and each service's environment
 * (with compose's `${VAR:-default}` defaults) passes that service's own config
 * schema; `docker-compose config` (installed by `tools/vigil.sh test`) accepts
 * compose.yaml and its Redis Cluster override.
 */
import assert from "node:assert/strict";
import { parseWebConfig } from "@vigil/web/config";
import { loadConfig as loadNotifierConfig } from "@vigil/notifier/config";
import { composeEnvironment, interpolate } from "./compose_env.ts";

const COMPOSE = new URL("../../compose.yaml", import.meta.url);
const text = await Deno.readTextFile(COMPOSE);

Deno.test("composeEnvironment() reads a service's environment with merged anchors", () => {
  const env = composeEnvironment(text, "archive");
  assert.equal(env.OTEL_SERVICE_NAME, "archive");
  assert.equal(env.REDIS_URL, "redis://redis:6379", "merged from x-vigil-env");
  assert.equal(env.S3_BUCKET, "vigil-archive");
  assert.throws(() => composeEnvironment(text, "nope"), /no service "nope"/);
});

Deno.test("interpolate() applies compose's ${VAR:-default} and ${VAR} forms", () => {
  assert.equal(interpolate("${A:-x}/${B}", { B: "b" }), "x/b");
  assert.equal(interpolate("${A:-x}", { A: "a" }), "a");
  assert.equal(interpolate("${A:-}", {}), "");
});

Deno.test("compose.yaml: the web has the archive's S3 settings, and its config accepts them", () => {
  const archive = composeEnvironment(text, "archive");
  const web = composeEnvironment(text, "web");
  const s3Keys = Object.keys(archive).filter((k) => k.startsWith("S3_"));
  assert.ok(s3Keys.length >= 6, `archive S3 keys: ${s3Keys}`);
  for (const key of s3Keys) assert.equal(web[key], archive[key], `web ${key}`);
  const resolved = Object.fromEntries(
    Object.entries(web).map(([k, v]) => [k, interpolate(v, {})]),
  );
  const config = parseWebConfig(resolved);
  assert.equal(config.S3_BUCKET, "vigil-archive");
  assert.equal(config.S3_ENDPOINT, "http://minio:9000");
  assert.equal(config.S3_ACCESS_KEY_ID, "vigil-archive");
});

Deno.test("compose.yaml: the notifier passes WEBHOOK_URL through (empty = off)", () => {
  const notifier = composeEnvironment(text, "notifier");
  assert.equal(notifier.WEBHOOK_URL, "${WEBHOOK_URL:-}");
  const resolve = (vars: Record<string, string>) =>
    Object.fromEntries(Object.entries(notifier).map(([k, v]) => [k, interpolate(v, vars)]));
  assert.equal(loadNotifierConfig(resolve({})).webhookUrl, undefined);
  const on = loadNotifierConfig(resolve({ WEBHOOK_URL: "https://hooks.example.com/vigil" }));
  assert.equal(on.webhookUrl, "https://hooks.example.com/vigil");
  assert.ok(on.defaultRoute.channels.includes("webhook"));
});

Deno.test("compose.yaml: the web, the notifier and the detector share VIGIL_API_TOKEN", () => {
  // Without it the detector answered an evaluate with "dispatch": true 503 under compose.
  for (const service of ["web", "notifier", "detector"]) {
    const env = composeEnvironment(text, service);
    assert.equal(env.VIGIL_API_TOKEN, "${VIGIL_API_TOKEN:-}", service);
  }
});

/** `docker-compose config` of `files` (Debian's docker-compose parses without an engine). */
async function composeConfig(files: string[], env: Record<string, string> = {}): Promise<string> {
  const args = files.flatMap((f) => ["-f", new URL(`../../${f}`, import.meta.url).pathname]);
  const out = await new Deno.Command("docker-compose", {
    args: [...args, "config"],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `docker-compose config: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("docker-compose config accepts compose.yaml and agrees on the web's and the notifier's environment", async () => {
  const resolved = await composeConfig(["compose.yaml"], {
    WEBHOOK_URL: "https://hooks.example.com/vigil",
  });
  const web = composeEnvironment(resolved, "web");
  assert.equal(web.S3_BUCKET, "vigil-archive");
  assert.equal(web.S3_ENDPOINT, "http://minio:9000");
  assert.equal(
    composeEnvironment(resolved, "notifier").WEBHOOK_URL,
    "https://hooks.example.com/vigil",
  );
  for (const name of ["producer", "bridge", "archive", "detector", "notifier", "web"]) {
    assert.equal(composeEnvironment(resolved, name).OTEL_SERVICE_NAME, name);
  }
  assert.doesNotMatch(resolved, /redis-node-1/, "the cluster nodes belong to the override only");
});

Deno.test("tools/compose/cluster.yaml puts the bridge, detector, notifier and web on a 3-master cluster", async () => {
  const resolved = await composeConfig(["compose.yaml", "tools/compose/cluster.yaml"]);
  for (const n of [1, 2, 3]) assert.match(resolved, new RegExp(`\\n  redis-node-${n}:\\n`));
  assert.match(resolved, /--cluster-yes/);
  for (const name of ["bridge", "detector", "notifier", "web"]) {
    assert.equal(
      composeEnvironment(resolved, name).REDIS_CLUSTER_NODES,
      "redis-node-1:6379,redis-node-2:6379,redis-node-3:6379",
      name,
    );
  }
  for (const name of ["bridge", "detector"]) {
    assert.equal(composeEnvironment(resolved, name).VIGIL_PARTITIONS, "6", name);
  }
  const waits = resolved.match(
    /redis-cluster-init:\n\s+condition: service_completed_successfully/g,
  );
  assert.equal(waits?.length, 4, "bridge, detector, notifier and web wait for the cluster");
});

Deno.test("compose.yaml and the Dockerfile start each service with `deno task --quiet`: only JSON lines", async () => {
  // Without --quiet, `deno task` writes its own "Task <name> deno run …" line to stderr first:
  // the one line of a container's log that a log system could not read as JSON.
  const dockerfile = await Deno.readTextFile(new URL("../../Dockerfile", import.meta.url));
  // A flow sequence, on one line or (deno fmt's) several with a trailing comma.
  const commands = [
    ...text.matchAll(/command: (\[[^\]]*\])/g),
    ...dockerfile.matchAll(/CMD (\[.*\])/g),
  ].map((m) => JSON.parse(m[1]!.replace(/\$\{[^}]*\}/g, "x").replace(/,\s*\]$/, "]")) as string[])
    .filter((c) => c[0] === "deno");
  assert.ok(commands.length >= 8, JSON.stringify(commands));
  for (const c of commands) {
    assert.deepEqual(c.slice(0, 3), ["deno", "task", "--quiet"], c.join(" "));
  }
});
