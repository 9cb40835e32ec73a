import assert from "node:assert/strict";
import { ResponseFramer, withClose } from "./response_framing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feed `parts` in order; one line per step: `head <status line>`/`body <bytes>`, `end` at ends. */
function steps(framer: ResponseFramer, ...parts: string[]): string[] {
  const out: string[] = [];
  for (const part of parts) {
    let rest = enc.encode(part);
    while (rest.length > 0) {
      const step = framer.feed(rest);
      const bytes = dec.decode(rest.subarray(0, step.consumed));
      rest = rest.subarray(step.consumed);
      if (step.kind === "head") {
        if (!step.complete) continue;
        out.push(`head ${dec.decode(step.raw).split("\r\n")[0]}${step.final ? "" : " (interim)"}`);
      } else out.push(`body ${bytes}`);
      if ("ends" in step && step.ends) out.push("end");
    }
  }
  return out;
}

Deno.test("ResponseFramer finds heads and bodies split anywhere, and what each answers", () => {
  const framer = new ResponseFramer();
  framer.expect("POST");
  framer.expect("HEAD");
  framer.expect("GET");
  framer.expect("GET");
  assert.deepEqual(
    steps(
      framer,
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Le",
      "ngth: 5\r\n\r\nhel",
      "loHTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r",
      "\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    ),
    [
      "head HTTP/1.1 100 Continue (interim)",
      "head HTTP/1.1 200 OK",
      "body hel",
      "body lo",
      "end",
      "head HTTP/1.1 200 OK", // to HEAD: no body whatever its length
      "end",
      "head HTTP/1.1 200 OK",
      "body 3\r\nabc\r\n0\r",
      "body \n\r\n",
      "end",
      "head HTTP/1.1 204 No Content",
      "end",
    ],
  );
  assert.equal(framer.awaiting, 0);
});

Deno.test("ResponseFramer passes on until the close what it cannot frame", () => {
  const framer = new ResponseFramer();
  framer.expect("GET");
  framer.expect("GET");
  assert.deepEqual(
    steps(framer, "HTTP/1.0 200 OK\r\n\r\nstream", "HTTP/1.1 200 OK\r\n\r\n"),
    ["head HTTP/1.0 200 OK", "body stream", "body HTTP/1.1 200 OK\r\n\r\n"],
  );
  assert.equal(framer.awaiting, 1);
});

Deno.test("withClose() adds Connection: close to a response head once", () => {
  const head = enc.encode("HTTP/1.1 413 Payload Too Large\r\ncontent-length: 2\r\n\r\n");
  const closed = withClose(head);
  assert.equal(
    dec.decode(closed),
    "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 2\r\nconnection: close\r\n\r\n",
  );
  assert.equal(withClose(closed), closed);
});
