/**
 * The gates that are not tests (format, lint, type check), run as tests, so
 * that CI (which runs `deno task test`) refuses unformatted code, lint
 * findings and type errors in files no test imports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runDeno } from "./testing/services.ts";

for (
  const [what, args] of [
    ["deno fmt --check", ["fmt", "--check"]],
    ["deno lint", ["lint"]],
    ["deno check .", ["check", "."]],
  ] as const
) {
  Deno.test(`${what} finds nothing`, async () => {
    const { code, text } = await runDeno(args);
    assert.equal(code, 0, `${what} failed:\n${text.slice(-4000)}`);
  });
}
