import assert from "node:assert/strict";
import { contrastRatio as contrast } from "@vigil/tools/testing/contrast";

// The page's colours (style.css, `light-dark(light, dark)`) against WCAG 2 AA: text needs a
// contrast ratio of 4.5 with what it is written on. axe-core found the light theme's severity
// badges (3.6–3.9), the "Live" dot's text and the docs' method tags below it.
const css = await Deno.readTextFile(new URL("./style.css", import.meta.url));
const vars = new Map<string, [string, string]>();
for (const m of css.matchAll(/(--[\w-]+):\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\)/g)) {
  vars.set(m[1]!, [m[2]!, m[3]!]);
}

Deno.test("every text colour of the page reads at 4.5:1 on its backgrounds, light and dark", () => {
  const text = ["--fg", "--muted", "--accent", "--crit", "--warn", "--info", "--ok"];
  const pairs = [
    ...text.flatMap((t) => ["--card", "--bg", "--hover"].map((b) => [t, b])),
    ["--crit", "--crit-bg"],
    ["--warn", "--warn-bg"],
    ["--info", "--info-bg"],
    ["--fg", "--fresh"],
  ];
  const failing: string[] = [];
  for (const [scheme, i] of [["light", 0], ["dark", 1]] as const) {
    for (const [t, b] of pairs) {
      const fg = vars.get(t!)?.[i], bg = vars.get(b!)?.[i];
      assert.ok(fg && bg, `${t} and ${b} are light-dark() colours of style.css`);
      const ratio = contrast(fg, bg);
      if (ratio < 4.5) failing.push(`${scheme}: ${t} ${fg} on ${b} ${bg}: ${ratio.toFixed(2)}`);
    }
  }
  assert.deepEqual(failing, []);
});
