/**
 * The gates of `deno task ok` that are not tests, run by the tests too, so
 * that CI (which runs `deno task test`) refuses unformatted code, lint
 * findings and type errors in files no test imports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ROOT } from "./testing/services.ts";

for (
  const [what, args] of [
    ["deno fmt --check", ["fmt", "--check"]],
    ["deno lint", ["lint"]],
    ["deno check .", ["check", "."]],
  ] as const
) {
  Deno.test(`${what} finds nothing`, async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...args],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `${what} failed:\n${text.slice(-4000)}`);
  });
}
