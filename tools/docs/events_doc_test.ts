/**
 * docs/events.md cannot drift from the schemas: every example message in it
 * is parsed with the real schemas (its value must be valid, its key the
 * event's entity, its headers well-formed), every field table lists exactly
 * the schema's fields with the right "required", and the headers it
 * documents are the ones the producer sends.
 */
import assert from "node:assert/strict";
import { createGenerator } from "@vigil/producer/generator";
import { parseReplayCsv } from "../testing/csv.ts";
import { replayMessages } from "../../producer/replay.ts";
import { isCanonicalTraceparent } from "@vigil/shared/telemetry";
import {
  type AnyEvent,
  EVENT_FIELDS,
  EVENT_TYPES,
  type EventType,
  eventTypeOf,
  isEventType,
  parseEvent,
} from "@vigil/shared/schemas/event";

/** The entity an event belongs to (service for logs/metrics, user for transactions). */
function entityOf(type: EventType, event: AnyEvent): string {
  return type === "transactions"
    ? (event as { user_id: string }).user_id
    : (event as { service: string }).service;
}

const DOC = await Deno.readTextFile(new URL("../../docs/events.md", import.meta.url));

interface Example {
  topic: string;
  key: string;
  headers: Record<string, string>;
  value: Record<string, unknown>;
}

/** The ```json blocks of the doc that are example messages. */
function examples(): Example[] {
  const out: Example[] = [];
  for (const m of DOC.matchAll(/```json\n([\s\S]*?)```/g)) {
    const block = JSON.parse(m[1]!);
    if (block && typeof block === "object" && "topic" in block && "value" in block) {
      out.push(block as Example);
    }
  }
  return out;
}

/** The rows of the field table under `### \`<topic>\``: field → required. */
function fieldTable(topic: EventType): Map<string, boolean> {
  const start = DOC.indexOf(`### \`${topic}\``);
  assert.ok(start >= 0, `docs/events.md has a section for ${topic}`);
  const rest = DOC.slice(start + 1);
  const section = rest.slice(0, rest.search(/\n#{2,3} /) >>> 0);
  const rows = new Map<string, boolean>();
  for (const m of section.matchAll(/^\| `(\w+)`\s*\| (yes|no)\s*\|/gm)) {
    rows.set(m[1]!, m[2] === "yes");
  }
  return rows;
}

Deno.test("docs/events.md: every example message is valid for the real schemas", () => {
  const all = examples();
  const topics = new Set(all.map((e) => e.topic));
  for (const t of EVENT_TYPES) assert.ok(topics.has(t), `an example on ${t}`);
  for (const ex of all) {
    const where = `${ex.topic} example ${JSON.stringify(ex.value).slice(0, 60)}`;
    assert.ok(isEventType(ex.topic), `${where}: known topic`);
    const type = eventTypeOf(ex.topic as EventType, ex.value);
    const parsed = parseEvent(type, ex.value);
    assert.ok(parsed.ok, `${where}: ${parsed.ok ? "" : parsed.reason}`);
    assert.equal(ex.key, entityOf(type, parsed.event as AnyEvent), `${where}: key is the entity`);
    for (const [name, value] of Object.entries(ex.headers)) {
      assert.equal(typeof value, "string", `${where}: header ${name} is a string`);
      if (name === "traceparent") assert.ok(isCanonicalTraceparent(value), `${where}: traceparent`);
      if (name === "vigil-expect") {
        const expected = JSON.parse(value);
        assert.ok(Array.isArray(expected) && expected.length > 0, `${where}: vigil-expect array`);
      }
    }
  }
});

Deno.test("docs/events.md: each field table lists the schema's fields and which are required", () => {
  const full = new Map<string, Record<string, unknown>>(
    examples().filter((e) => e.topic === eventTypeOf(e.topic as EventType, e.value))
      .map((e) => [e.topic, e.value]),
  );
  for (const type of EVENT_TYPES) {
    const table = fieldTable(type);
    assert.deepEqual([...table.keys()], [...EVENT_FIELDS[type]], `${type}: fields in schema order`);
    const example = full.get(type);
    assert.ok(example, `${type}: an example of its own shape`);
    for (const [field, required] of table) {
      assert.ok(field in example, `${type} example has every field (${field})`);
      const without: Record<string, unknown> = { ...example };
      delete without[field];
      assert.equal(
        !parseEvent(type, without).ok,
        required,
        `${type}.${field} is documented as ${required ? "required" : "optional"}`,
      );
    }
  }
});

Deno.test("docs/events.md: the documented headers are the ones the producer sends", async () => {
  const g = createGenerator({ seed: 7 });
  const injection = g.scenario("large_amount", Date.parse("2025-01-02T03:04:05Z"));
  const sent = new Set(injection.messages.flatMap((m) => Object.keys(m.headers)));
  for (const m of g.normal(Date.parse("2025-01-02T03:04:05Z"), 20)) {
    for (const h of Object.keys(m.headers)) sent.add(h);
  }
  // A replay's messages too (`--replay`).
  const replay = parseReplayCsv("timestamp,value\n2025-01-02T03:04:05Z,42\n");
  for await (const batch of replayMessages(replay, { speed: "max" })) {
    for (const m of batch) for (const h of Object.keys(m.headers)) sent.add(h);
  }
  const documented = new Set([...DOC.matchAll(/^\| header `([\w-]+)`/gm)].map((m) => m[1]!));
  assert.deepEqual([...documented].sort(), [...sent].sort());
  // The vigil-expect example has the fields the producer writes.
  const real = JSON.parse(injection.messages[0]!.headers["vigil-expect"]!)[0];
  const ex = examples().find((e) => e.headers["vigil-expect"]);
  assert.ok(ex, "a vigil-expect example");
  const doc = JSON.parse(ex.headers["vigil-expect"]!)[0];
  assert.deepEqual(Object.keys(doc).sort(), Object.keys(real).sort());
  assert.equal(doc.rule, real.rule, "the example's rule is the scenario's");
  assert.equal(doc.severity, real.severity);
  // The key and headers table names each field of vigil-expect.
  assert.match(DOC, new RegExp(`\\{${Object.keys(real).join(", ")}\\}`));
});
