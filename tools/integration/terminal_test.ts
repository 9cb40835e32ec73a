/**
 * `deno task web` in a terminal, as a user runs one service: it starts
 * without asking for a permission (a prompt would hold it until someone
 * answers; `--no-prompt` refuses what the task does not grant, as without a
 * terminal), and Ctrl-C stops it cleanly. Ctrl-C in a terminal reaches the
 * whole foreground process group, so the service gets SIGINT from the
 * terminal and again from `deno task`, which forwards it: once, not a second
 * request that forces the exit. The terminal is a real pseudo-terminal from
 * `script` (util-linux, in every Debian).
 */
import assert from "node:assert/strict";
import { stablePort } from "../testing/ports.ts";
import { withPg } from "../testing/pg.ts";
import { TEST_REDIS_URL } from "../testing/redis.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
// deno-lint-ignore no-control-regex
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;

Deno.test(
  "deno task web in a terminal: no permission prompt, Ctrl-C stops it cleanly",
  opts,
  async () => {
    await withPg(async ({ url }) => {
      const port = stablePort();
      const child = new Deno.Command("script", {
        args: ["-qfec", "deno task web", "/dev/null"],
        cwd: new URL("../..", import.meta.url),
        env: {
          WEB_PORT: String(port),
          DATABASE_URL: url,
          REDIS_URL: TEST_REDIS_URL,
          VIGIL_PREFIX: `test:terminal:${crypto.randomUUID().slice(0, 8)}:`,
          NO_COLOR: "1",
        },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      const readUntil = async (done: RegExp, ms: number) => {
        const deadline = Date.now() + ms;
        while (!done.test(out) && Date.now() < deadline) {
          const next = await Promise.race([
            reader.read(),
            new Promise<null>((r) => setTimeout(() => r(null), deadline - Date.now())),
          ]);
          if (next === null || next.done) break;
          out += next.value.replace(ESCAPES, "");
        }
      };
      const writer = child.stdin.getWriter();
      try {
        await readUntil(/web listening|Deno requests/, 60_000);
        assert.doesNotMatch(out, /Deno requests/, `a permission prompt:\n${out.slice(-2000)}`);
        assert.match(out, /web listening/, out.slice(-2000));
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
        // Ctrl-C typed in the terminal.
        await writer.write(new Uint8Array([3]));
        await readUntil(/"msg":"stopped"|forcing exit/, 15_000);
        assert.doesNotMatch(out, /forcing exit/, out.slice(-2000));
        assert.match(out, /"msg":"stopped"/, out.slice(-2000));
        const status = await Promise.race([
          child.status,
          new Promise<null>((r) => setTimeout(() => r(null), 15_000)),
        ]);
        assert.ok(status, "deno task web still running 15 s after Ctrl-C");
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await writer.close().catch(() => {});
        await reader.cancel().catch(() => {});
        await child.stderr.cancel().catch(() => {});
      }
    });
  },
);
