import assert from "node:assert/strict";
import { parseCsv } from "./csv.ts";

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
