/**
 * compose.yaml gives each service the settings it needs: the web reads the
 * archive's bucket (same S3_* values as the archive, so evidence lookups find
 * the objects), the notifier has WEBHOOK_URL, and each service's environment
 * (with compose's `${VAR:-default}` defaults) passes that service's own config
 * schema. `docker-compose config` is used too when it is installed.
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

const dockerCompose = ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

Deno.test({
  name: "docker-compose config agrees on the web's and the notifier's environment",
  ignore: dockerCompose === undefined,
  async fn() {
    // `config` prints the resolved file as YAML (v1 and v2 alike), read with the same reader.
    const out = await new Deno.Command(dockerCompose!, {
      args: ["-f", new URL(COMPOSE).pathname, "config"],
      env: { WEBHOOK_URL: "https://hooks.example.com/vigil" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const resolved = new TextDecoder().decode(out.stdout);
    const web = composeEnvironment(resolved, "web");
    assert.equal(web.S3_BUCKET, "vigil-archive");
    assert.equal(web.S3_ENDPOINT, "http://minio:9000");
    assert.equal(
      composeEnvironment(resolved, "notifier").WEBHOOK_URL,
      "https://hooks.example.com/vigil",
    );
  },
});
