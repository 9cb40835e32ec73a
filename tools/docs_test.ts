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
