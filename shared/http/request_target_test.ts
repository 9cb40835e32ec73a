import assert from "node:assert/strict";
import { validHost, validTarget } from "./request_target.ts";

const latin1 = new TextDecoder("latin1");
/** A target as the guard sees it: its bytes decoded by the head's decoder. */
const seen = (...bytes: number[]) => latin1.decode(new Uint8Array(bytes));
const ascii = (s: string) => [...new TextEncoder().encode(s)];

Deno.test("validTarget() takes paths, absolute URLs, * and raw UTF-8", () => {
  for (const t of ["/", "/api/x?y=%FF&z=1", "http://h/a", "*"]) assert.ok(validTarget(t), t);
  // é, à and Р (C3 A0, D0 A0), € (E2 82 AC: 82 and AC are not latin1 in windows-1252), 😀.
  for (const s of ["/é", "/à", "/Р", "/€", "/😀"]) {
    assert.ok(validTarget(seen(...new TextEncoder().encode(s))), s);
  }
  // A target as long as the largest head HTTP_MAX_HEADER_BYTES allows (1 MiB).
  const long = latin1.decode(new TextEncoder().encode(`/${"é".repeat(512 * 1024)}`));
  assert.ok(validTarget(long));
});

Deno.test("validTarget() refuses what Deno answers with an empty 400", () => {
  for (
    const bytes of [
      ascii("health"), // no leading slash
      [...ascii("/a?x="), 0xff], // not UTF-8
      [...ascii("/"), 0xed, 0xa0, 0x80], // a lone surrogate
      [...ascii("/"), 0xc0, 0xaf], // overlong
      [...ascii("/a"), 0x7f],
      ascii("**"),
    ]
  ) {
    assert.equal(validTarget(seen(...bytes)), false, String(bytes));
  }
});

Deno.test("validHost() takes names, addresses and ports, and refuses what would move the URL", () => {
  for (const h of ["", "example.com", "a-b_c.d:8080", "127.0.0.1", "[::1]:80", "x:"]) {
    assert.ok(validHost(h), h);
  }
  for (const h of ["a/b", "a?b", "a#b", "a b", "a\\b", "<script>", "x:65536", "[::1", "a@b", "é"]) {
    assert.equal(validHost(h), false, h);
  }
  // Of the name's characters, yet no host a URL takes: the request's URL was invalid all the same
  // (a chunked POST, which the app's guard makes again with new Request(), answered 500).
  for (const h of ["999.1.1.1", "1.2.3.4.5", "x.y.256", "[.]", "[1:2]", "xn--", ":8080"]) {
    assert.equal(validHost(h), false, h);
  }
});
