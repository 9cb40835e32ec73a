import assert from "node:assert/strict";
import { createCsvReader, type CsvRecord, MAX_CSV_RECORD, parseCsv, readCsv } from "./csv.ts";

Deno.test("parseCsv() reads quoted cells: commas, doubled quotes, line breaks", () => {
  const text = "\uFEFFtime,merchant,note\r\n" +
    '2025-07-12 13:00:11,"Acme, Inc.","said ""hi"""\r\n' +
    "\r\n" +
    '  2025-07-12 13:00:12 , Shop ,"two\nlines"\n' +
    "2025-07-12 13:00:13,,\n";
  assert.deepEqual(parseCsv(text), [
    { line: 1, cells: ["time", "merchant", "note"] },
    { line: 2, cells: ["2025-07-12 13:00:11", "Acme, Inc.", 'said "hi"'] },
    { line: 4, cells: ["2025-07-12 13:00:12", "Shop", "two\nlines"] },
    { line: 6, cells: ["2025-07-12 13:00:13", "", ""] },
  ]);
});

Deno.test("parseCsv() skips blank lines and reads a last line without a line break", () => {
  assert.deepEqual(parseCsv("\n  \na,b\n\n1,2"), [
    { line: 3, cells: ["a", "b"] },
    { line: 5, cells: ["1", "2"] },
  ]);
  assert.deepEqual(parseCsv(""), []);
});

Deno.test("parseCsv() names the line of a quoted cell that is not closed", () => {
  assert.throws(
    () => parseCsv('a,b\n1,2\n3,"open\n4,5\n', "Cannot parse replay file"),
    {
      name: "SyntaxError",
      message: "Cannot parse replay file: line 3: a quoted cell is not closed",
    },
  );
});

Deno.test("createCsvReader() given the text in pieces, split anywhere, reads the same records", () => {
  const text = "\uFEFFtime,merchant,note\r\n" +
    '2025-07-12 13:00:11,"Acme, Inc.","said ""hi"""\r\n' +
    "\r\n" +
    '  2025-07-12 13:00:12 , Shop ,"two\r\nlines"\r' +
    '2025-07-12 13:00:13,,""\n' +
    '4,"x" y,a"b\r\n';
  const whole = parseCsv(text);
  assert.equal(whole.length, 5);
  for (let a = 0; a <= text.length; a++) {
    for (let b = a; b <= text.length; b++) {
      const reader = createCsvReader();
      const records = [a, b, text.length].flatMap((end, k) =>
        reader.push(text.slice([0, a, b][k], end))
      );
      records.push(...reader.end());
      assert.deepEqual(records, whole, `split at ${a} and ${b}`);
    }
  }
});

Deno.test("readCsv() reads a byte stream in chunks: UTF-8 split anywhere, an open quote's line", async () => {
  const bytes = new TextEncoder().encode('a,b\n1,é€\n2,"x\n3,4\n');
  const chunks = (size: number) =>
    ReadableStream.from(
      Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
        bytes.slice(i * size, (i + 1) * size)),
    );
  for (const size of [1, 2, 3, 5, 100]) {
    const records: CsvRecord[] = [];
    await assert.rejects(
      async () => {
        for await (const batch of readCsv(chunks(size), "Cannot parse replay file")) {
          records.push(...batch);
        }
      },
      {
        name: "SyntaxError",
        message: "Cannot parse replay file: line 3: a quoted cell is not closed",
      },
    );
    assert.deepEqual(records, [{ line: 1, cells: ["a", "b"] }, { line: 2, cells: ["1", "é€"] }]);
  }
});

/** `head`, then `fill` over and over in 64 KiB chunks, up to 8 MiB: `pulls` counts the chunks read. */
const longLine = (head: string, fill: string) => {
  const encoder = new TextEncoder();
  const chunk = encoder.encode(fill.repeat(65_536 / fill.length));
  const read = { pulls: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (read.pulls === 128) return controller.close();
      controller.enqueue(read.pulls++ === 0 ? encoder.encode(head) : chunk);
    },
  });
  return { stream, read };
};

Deno.test("readCsv() stops a record that never ends, naming its line (a 300 MB line, a quote left open)", async (t) => {
  const cases = [
    ["a line without a line break", "a,b\n1,", "x"],
    ["a quoted cell not closed", 'a,b\n1,"', "x\n"],
    ["a line of commas", "a,b\n1", ","],
  ] as const;
  for (const [name, head, fill] of cases) {
    await t.step(name, async () => {
      const { stream, read } = longLine(head, fill);
      await assert.rejects(
        async () => {
          for await (const _ of readCsv(stream, "Cannot parse replay file"));
        },
        {
          name: "SyntaxError",
          message: `Cannot parse replay file: line 2: a record longer than ${MAX_CSV_RECORD} ` +
            `characters${fill === "x\n" ? " (a quoted cell not closed?)" : ""}`,
        },
      );
      // Stopped once past the bound (the 300 MB line was held whole, a longer one failed with
      // "Invalid string length"; a 200 MB quoted cell took the heap's 4 GB).
      assert.ok(read.pulls <= MAX_CSV_RECORD / 65_536 + 3, `${read.pulls} chunks read`);
    });
  }
});

Deno.test("createCsvReader() takes a record up to its bound, in any pieces", () => {
  const cell = "x".repeat(MAX_CSV_RECORD - 4);
  for (const text of [`a,${cell}\n`, `a,"${cell.slice(2)}"\n`]) {
    const reader = createCsvReader();
    const records = [...reader.push(text.slice(0, 7)), ...reader.push(text.slice(7))];
    assert.equal(records.length, 1);
    assert.throws(() => parseCsv(`a,x${text}`), /line 1: a record longer than/);
  }
});

Deno.test('parseCsv() opens a quote after white space only, else keeps it (a long line of x" is read once)', () => {
  assert.deepEqual(parseCsv(' a , \t"b,c" ,x"y"\n'), [{ line: 1, cells: ["a", "b,c", 'x"y"'] }]);
  const line = 'x"'.repeat(200_000);
  assert.deepEqual(parseCsv(`a,${line}\n`), [{ line: 1, cells: ["a", line] }]);
});
