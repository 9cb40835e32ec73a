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
import { createKeys } from "@vigil/shared/keys";
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

/** README.md and every page of docs/, as paths from the repository's root. */
async function docFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const e of Deno.readDir(new URL("../docs/", import.meta.url))) {
    if (e.name.endsWith(".md")) files.push(`docs/${e.name}`);
  }
  return files;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces → hyphens. */
export function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

Deno.test("every relative link of README.md and docs/ points at a file and heading that exist", async () => {
  const root = new URL("../", import.meta.url);
  const files = await docFiles();
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

Deno.test("every source path README.md and docs/ name in backticks exists", async () => {
  // Not links, but read as such: docs/web.md listed web/series_test.ts after it was removed.
  const root = new URL("../", import.meta.url);
  const files = await docFiles();
  const dirs = "shared|producer|bridge|archive|detector|notifier|web|tools|docs";
  const missing: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, root));
    for (const m of text.matchAll(new RegExp(`\`((?:${dirs})/[\\w./-]+)\``, "g"))) {
      const path = m[1]!;
      if (/NNN/.test(path)) continue; // a pattern: shared/migrations/NNN_name.sql
      try {
        await Deno.stat(new URL(path, root));
      } catch {
        missing.push(`${file}: ${path}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});

/**
 * Every key `createKeys("vigil:")` builds, by builder, with `@` for each part the caller gives.
 * One call per builder: a builder added to Keys must be added here (a test checks it).
 */
function builtKeys(): Record<string, string> {
  // deno-lint-ignore no-explicit-any
  const k = createKeys("vigil:") as any;
  const unit = { kind: "@", partition: "@" };
  return {
    events: k.events("@", "@"),
    dlq: k.dlq(),
    bridgeOffsets: k.bridgeOffsets(unit),
    bridgeOffsetsDlq: k.bridgeOffsets("dlq"),
    bridgeProgress: k.bridgeProgress(),
    bridgeCluster: k.bridgeCluster(),
    meta: k.meta(),
    alerts: k.alerts(),
    publishedMarkers: k.publishedMarkers(),
    alertsChannel: k.alertsChannel(),
    acksChannel: k.acksChannel(),
    scores: k.scores("@", "@", "@"),
    scoreMeasures: k.scoreMeasures("@"),
    detectorState: k.detectorState(unit),
    detectorStateNext: k.detectorStateNext(unit, "@"),
    detectorLease: k.detectorLease(unit),
    detectorMembers: k.detectorMembers(),
    detectorMemberName: k.detectorMemberName("@"),
  };
}

Deno.test("every Redis key README.md and docs/ name is one shared/keys.ts makes", async () => {
  // docs/notifier.md's diagram sent dead letters to vigil:dlq; the key is vigil:{dlq}.
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const part = "[^{}:\\s]+"; // a value (logs, 0) or a placeholder (<kind>, <p>)
  const built = Object.values(builtKeys());
  const templates = built.map((t) => new RegExp(`^${escape(t).replaceAll("@", part)}$`));
  const samples = built.map((t) => t.replaceAll("@", "x"));
  const root = new URL("../", import.meta.url);
  const files = await docFiles();
  const unknown: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, root));
    for (const m of text.matchAll(/(?<![\w-])vigil:[\w{}<>:*.-]*[\w}>*]/g)) {
      const name = m[0];
      const known = name.includes("*")
        ? samples.some((s) => new RegExp(`^${escape(name).replaceAll("\\*", ".*")}$`).test(s))
        : templates.some((t) => t.test(name));
      if (!known) unknown.push(`${file}: ${name}`);
    }
  }
  assert.deepEqual(unknown, []);
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

/** The key patterns in the first cells of the table under `heading` (`<x>` any part, `…` any run). */
export function keyPatterns(markdown: string, heading: RegExp): RegExp[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => heading.test(l));
  const patterns: RegExp[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^(#|\s*\*?\s*@)/.test(line)) break;
    const cell = /^(?:\s*\*\s*)?\|([^|]*)\|/.exec(line)?.[1];
    for (const m of cell?.matchAll(/`([^`]+)`/g) ?? []) {
      const source = m[1]!.replace(/[.*+?^${}()[\]\\]/g, "\\$&").replace(/<[^>]+>/g, ".+")
        .replace(/…/g, ".*");
      patterns.push(new RegExp(`^${source}$`));
    }
  }
  return patterns;
}

Deno.test("README.md's and shared/keys.ts's key tables name every key shared/keys.ts builds", async () => {
  const built = builtKeys();
  const builders = Object.entries(createKeys("vigil:")).filter(([name, f]) =>
    typeof f === "function" && !["parseEvents", "scratch"].includes(name)
  ).map(([name]) => name);
  assert.deepEqual(builders.filter((n) => !(n in built)), [], "builders without a call here");
  const root = new URL("../", import.meta.url);
  const tables = {
    "README.md": keyPatterns(
      await Deno.readTextFile(new URL("README.md", root)),
      /^### Redis keys/,
    ),
    "shared/keys.ts": keyPatterns(
      await Deno.readTextFile(new URL("shared/keys.ts", root)),
      /^ \* \| key \|/,
    ),
  };
  for (const [file, patterns] of Object.entries(tables)) {
    const missing = Object.entries(built).filter(([, key]) => !patterns.some((p) => p.test(key)));
    assert.deepEqual(missing, [], `keys missing from the table of ${file}`);
  }
});
