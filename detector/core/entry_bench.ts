/**
 * Why the detector trusts its stream's canonical form (entry.ts): reading an
 * entry with `JSON.parse` only, against validating it again with the shared
 * zod schemas as the bridge already did. `deno bench detector/core/entry_bench.ts`.
 */
import { createGenerator } from "@vigil/producer/generator";
import { parseEvent } from "@vigil/shared/schemas/event";
import { parseEntry } from "./entry.ts";

const gen = createGenerator({ seed: 5, users: 500 });
const messages = gen.normal(Date.UTC(2025, 0, 1), 10_000);
const entries = messages.map((m) => [
  "data",
  m.value,
  "topic",
  m.topic,
  "partition",
  "2",
  "offset",
  "41",
  "key",
  "k",
  "ingest_ts",
  "1735689600000",
  "traceparent",
  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
]);

Deno.bench(
  "trusted: JSON.parse of the canonical entry (10,000 entries)",
  { baseline: true },
  () => {
    for (let i = 0; i < entries.length; i++) parseEntry("1-1", entries[i]!);
  },
);

Deno.bench("validated again: JSON.parse + zod schema (10,000 entries)", () => {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    parseEvent(m.topic, JSON.parse(m.value));
  }
});
