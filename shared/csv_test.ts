import assert from "node:assert/strict";
import { createCsvReader, type CsvRecord, parseCsv, readCsv } from "./csv.ts";

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
