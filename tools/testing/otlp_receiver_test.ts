import assert from "node:assert/strict";
import { startOtlpReceiver } from "./otlp_receiver.ts";

Deno.test("the discarding receiver answers keep-alive exports and counts their bytes", async () => {
  const receiver = startOtlpReceiver({ discard: true });
  try {
    const post = (path: string, body: Uint8Array<ArrayBuffer>) =>
      fetch(receiver.endpoint + path, {
        method: "POST",
        headers: { "content-type": "application/x-protobuf" },
        body,
      });
    // Bodies larger than the receiver's read buffer, small ones, and an empty one.
    const sizes = [700_000, 10, 0, 300_000];
    for (const size of sizes) {
      const res = await post("/v1/traces", new Uint8Array(size).fill(7));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {});
    }
    const other = await post("/v1/metrics", new Uint8Array(5));
    assert.equal(other.status, 404);
    await other.body?.cancel();
    assert.deepEqual(receiver.counts(), {
      requests: sizes.length,
      bytes: sizes.reduce((a, b) => a + b, 0),
    });
  } finally {
    await receiver.close();
  }
});

Deno.test("the discarding receiver refuses a body without a length", async () => {
  const receiver = startOtlpReceiver({ discard: true });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: receiver.port });
  try {
    await conn.write(
      new TextEncoder().encode(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(1024);
    const n = (await conn.read(buf))!;
    assert.match(new TextDecoder().decode(buf.subarray(0, n)), /^HTTP\/1\.1 411 /);
    assert.equal(receiver.counts()["requests"], undefined);
  } finally {
    conn.close();
    await receiver.close();
  }
});
