import assert from "node:assert/strict";
import { BEARER_TOKEN_PATTERN } from "@vigil/shared/http/bearer";
import { devTokenMessage, ensureDevToken, randomToken } from "./dev_token.ts";
import { readTaskCommand } from "./tasks.ts";
import { stablePort } from "../testing/ports.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-dev-token-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const modeOf = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("ensureDevToken() creates a strong token once, mode 0600, and reuses it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/.vigil/api_token`;
    const first = await ensureDevToken({ path });
    assert.equal(first.created, true);
    assert.equal(first.token.length, 43, "32 random bytes in base64url");
    assert.match(first.token, BEARER_TOKEN_PATTERN);
    assert.equal(await modeOf(path), 0o600);
    assert.equal((await Deno.readTextFile(path)).trim(), first.token);
    const again = await ensureDevToken({ path });
    assert.deepEqual(again, { token: first.token, path, created: false, restricted: false });
    // Nothing left behind but the token.
    assert.deepEqual([...Deno.readDirSync(`${dir}/.vigil`)].map((e) => e.name), ["api_token"]);
  });
});

Deno.test("ensureDevToken() restricts a token file others can read to 0600", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/api_token`;
    await Deno.writeTextFile(path, "an-existing-token-0123456789\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const t = await ensureDevToken({ path });
    assert.deepEqual(t, {
      token: "an-existing-token-0123456789",
      path,
      created: false,
      restricted: true,
    });
    assert.equal(await modeOf(path), 0o600);
  });
});

Deno.test("ensureDevToken() makes one token when two runners start at once", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/.vigil/api_token`;
    const all = await Promise.all(Array.from({ length: 8 }, () => ensureDevToken({ path })));
    assert.equal(new Set(all.map((t) => t.token)).size, 1);
    assert.equal(all.filter((t) => t.created).length, 1);
  });
});

Deno.test("ensureDevToken() refuses a file without a valid token, saying what to do", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/api_token`;
    await Deno.writeTextFile(path, "short\n");
    await assert.rejects(
      () => ensureDevToken({ path }),
      /Cannot use the API token in .*api_token: .*delete the file to have a new one made/,
    );
    await Deno.writeTextFile(path, "has spaces in it, not a token\n");
    await assert.rejects(() => ensureDevToken({ path }), /Cannot use the API token/);
  });
});

Deno.test("randomToken() differs every time", () => {
  const seen = new Set(Array.from({ length: 100 }, randomToken));
  assert.equal(seen.size, 100);
});

Deno.test("devTokenMessage() says where the token is and how to use it", () => {
  const lines = devTokenMessage(
    { token: "tok-123", path: ".vigil/api_token", created: true, restricted: false },
    { webPort: 8080 },
  ).join("\n");
  assert.match(lines, /created now in \.vigil\/api_token, mode 0600/);
  assert.match(lines, /^ {2}tok-123$/m);
  assert.match(lines, /"API token" field/);
  assert.match(lines, /curl -H "Authorization: Bearer \$\(cat \.vigil\/api_token\)"/);
  assert.match(lines, /http:\/\/localhost:8080\/api\/anomalies\/<id>\/ack/);
});

/** Run the real dev runner (task flags) in `dir`, whose deno.json has a stand-in web task. */
async function runDev(
  dir: string,
  env: Record<string, string> = {},
  options: { raw?: boolean } = {},
): Promise<string> {
  const task = (await readTaskCommand(`${ROOT}deno.json`, "dev"))!;
  const flags = task.split(/\s+/).slice(2, -1); // between "deno run" and the entry
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", `--config=${ROOT}deno.json`, ...flags, `${ROOT}tools/dev/dev_main.ts`],
    cwd: dir,
    // Free ports: the runner refuses to start beside a running Vigil (its default ports taken).
    env: {
      KAFKA_BROKERS: "127.0.0.1:1",
      NO_COLOR: "1",
      ...Object.fromEntries(
        ["BRIDGE_PORT", "DETECTOR_PORT", "NOTIFIER_PORT", "ARCHIVE_PORT", "WEB_PORT"]
          .map((name) => [name, String(stablePort())]),
      ),
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  // deno-lint-ignore no-control-regex -- the runner colours its prefixes
  const ansi = /\x1b\[[0-9;]*m/g;
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return options.raw ? text : text.replace(ansi, "");
}

Deno.test("deno task dev gives the web the token of .vigil/api_token, made once", async () => {
  await withTempDir(async (dir) => {
    // A stand-in "web" task that prints the token it was given.
    await Deno.writeTextFile(
      `${dir}/show_env.ts`,
      `console.log("web got " + Deno.env.get("VIGIL_API_TOKEN"));\n`,
    );
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ tasks: { web: "deno run --allow-env show_env.ts" } }),
    );
    const first = await runDev(dir);
    const token = (await Deno.readTextFile(`${dir}/.vigil/api_token`)).trim();
    assert.equal(await modeOf(`${dir}/.vigil/api_token`), 0o600);
    assert.match(first, /\[dev\] API token for Acknowledge and Silence \(created now in/);
    assert.ok(first.includes(`[dev]   ${token}`), first);
    assert.ok(first.includes(`web      | web got ${token}\n`), first);
    assert.equal(first.split(token).length - 1, 2, "printed once (and passed once)");
    const second = await runDev(dir);
    assert.match(second, /\(from \.vigil\/api_token, mode 0600\)/);
    assert.ok(second.includes(`web got ${token}\n`), "reused");
    // A token set in the environment wins, and no token is printed.
    const own = await runDev(dir, { VIGIL_API_TOKEN: "my-own-token-123456" });
    assert.match(own, /VIGIL_API_TOKEN is set: the web uses it/);
    assert.match(own, /web got my-own-token-123456/);
    assert.ok(!own.includes(token));
  });
});

Deno.test("deno task dev writes no colour codes when its output is not a terminal", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/show_env.ts`, `console.log("web started");\n`);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        tasks: {
          web: { description: "stand-in", command: "deno run --allow-env show_env.ts" },
        },
      }),
    );
    // NO_COLOR empty counts as unset: only the pipe (not a terminal) keeps colour off.
    const out = await runDev(dir, { NO_COLOR: "" }, { raw: true });
    assert.ok(out.includes("web      | web started\n"), out);
    assert.ok(!out.includes("\x1b["), JSON.stringify(out.slice(0, 300)));
  });
});
