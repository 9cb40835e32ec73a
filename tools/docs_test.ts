/**
 * The documentation agrees with the code: every environment variable a
 * config schema reads is listed in docs/configuration.md, and every variable
 * listed there (outside its "Read by the runtime" section) is read by one.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { z } from "zod";
import { archiveEnvSchema } from "@vigil/archive/config";
import { bridgeEnvSchema } from "@vigil/bridge/config";
import { detectorEnvSchema } from "@vigil/detector/config";
import { notifierEnv } from "@vigil/notifier/config";
import { producerEnvSchema } from "@vigil/producer/config";
import { webEnvSchema } from "@vigil/web/config";
import { devKafkaEnvSchema } from "./dev/kafka_mock.ts";

const SCHEMAS: Record<string, z.ZodObject> = {
  archive: archiveEnvSchema,
  bridge: bridgeEnvSchema,
  detector: detectorEnvSchema,
  notifier: notifierEnv,
  producer: producerEnvSchema,
  web: webEnvSchema,
  "deno task kafka": devKafkaEnvSchema,
};

const NOT_SCHEMA_SECTION = /^## Read by the runtime/;

/** Variable names in the first cell of the tables of `markdown`, per section. */
export function documentedVariables(markdown: string): { schema: Set<string>; other: Set<string> } {
  const schema = new Set<string>();
  const other = new Set<string>();
  let target = schema;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("## ")) target = NOT_SCHEMA_SECTION.test(line) ? other : schema;
    const cell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!cell) continue;
    for (const m of cell.matchAll(/`([A-Z][A-Z0-9_]*[A-Z0-9])`/g)) target.add(m[1]!);
  }
  return { schema, other };
}

Deno.test("docs/configuration.md lists exactly the variables the config schemas read", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/configuration.md", import.meta.url));
  const { schema: documented, other } = documentedVariables(doc);
  const read = new Map<string, string[]>();
  for (const [service, s] of Object.entries(SCHEMAS)) {
    for (const name of Object.keys(s.shape)) read.set(name, [...(read.get(name) ?? []), service]);
  }
  const undocumented = [...read.keys()].filter((n) => !documented.has(n)).sort();
  const unread = [...documented].filter((n) => !read.has(n)).sort();
  assert.deepEqual(undocumented, [], `read by a schema but not in docs/configuration.md`);
  assert.deepEqual(unread, [], `in docs/configuration.md but read by no schema`);
  assert.ok(other.has("OTEL_DENO"), "the runtime's variables are listed too");
  for (const name of other) {
    assert.ok(!read.has(name), `${name} is read by a schema: list it above`);
  }
});

Deno.test("documentedVariables reads first cells and splits off the runtime section", () => {
  const md =
    "## A\n| `FOO_BAR`, `BAZ` | `X_Y` |\n| --- | --- |\n## Read by the runtime\n| `OTEL_X` |\n";
  const { schema, other } = documentedVariables(md);
  assert.deepEqual([...schema].sort(), ["BAZ", "FOO_BAR"]);
  assert.deepEqual([...other], ["OTEL_X"]);
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces → hyphens. */
export function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

Deno.test("every relative link of README.md and docs/ points at a file and heading that exist", async () => {
  const root = new URL("../", import.meta.url);
  const files = ["README.md"];
  for await (const e of Deno.readDir(new URL("docs/", root))) {
    if (e.name.endsWith(".md")) files.push(`docs/${e.name}`);
  }
  const anchors = new Map<string, Set<string>>();
  const anchorsOf = async (path: string) => {
    let set = anchors.get(path);
    if (!set) {
      const text = await Deno.readTextFile(new URL(path, root));
      const headings = text.replace(/```[\s\S]*?```/g, "").matchAll(/^#{1,6} (.+)$/gm);
      set = new Set([...headings].map((m) => anchorOf(m[1]!)));
      anchors.set(path, set);
    }
    return set;
  };
  const broken: string[] = [];
  for (const file of files) {
    const text = (await Deno.readTextFile(new URL(file, root))).replace(/```[\s\S]*?```/g, "");
    for (const m of text.matchAll(/\]\(([^)\s]*)\)/g)) {
      const link = m[1]!;
      if (link === "") {
        broken.push(`${file}: ${m[0]} (empty link target)`);
        continue;
      }
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split("#") as [string, string | undefined];
      const target = path === ""
        ? file
        : new URL(path, new URL(file, root)).pathname.slice(root.pathname.length);
      try {
        await Deno.stat(new URL(target, root));
      } catch {
        broken.push(`${file}: ${link} (no file ${target})`);
        continue;
      }
      if (anchor && target.endsWith(".md") && !(await anchorsOf(target)).has(anchor)) {
        broken.push(`${file}: ${link} (no heading #${anchor} in ${target})`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("anchorOf follows GitHub's rule", () => {
  assert.equal(anchorOf("The dev Kafka's retention"), "the-dev-kafkas-retention");
  assert.equal(anchorOf("Guarantees, end to end"), "guarantees-end-to-end");
  assert.equal(
    anchorOf("Detector: `POST /api/alerts/evaluate` (open)"),
    "detector-post-apialertsevaluate-open",
  );
});

Deno.test("README.md stays an overview: at most 15,000 bytes, the rest lives under docs/", async () => {
  const readme = await Deno.readFile(new URL("../README.md", import.meta.url));
  assert.ok(readme.byteLength <= 15_000, `README.md is ${readme.byteLength} bytes`);
});
