/**
 * `deno task dev` beside a running stack refuses before starting anything. Its message must
 * not send the user to a second stack that shares the first one's Redis keys and database:
 * moving the ports alone would make the two bridges write into the same streams (each one's
 * Kafka offsets taken for the other's duplicates) and both pages show both stacks' anomalies.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno task dev beside a running one says to move VIGIL_PREFIX and DATABASE_URL too, not only the ports", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const free = () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    return String(port);
  };
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "dev"],
      cwd: ROOT,
      env: {
        KAFKA_DEV_BROKERS_FILE: "none",
        BRIDGE_PORT: free(),
        DETECTOR_PORT: free(),
        NOTIFIER_PORT: free(),
        ARCHIVE_PORT: free(),
        WEB_PORT: String((taken.addr as Deno.NetAddr).port),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 1, stdout);
    assert.match(stdout, /\[dev\] cannot start: \d+ \(web, WEB_PORT\) already in use/);
    assert.match(stdout, /set WEB_PORT to free ports, VIGIL_PREFIX to another Redis prefix/);
    assert.match(stdout, /DATABASE_URL to another database/);
    assert.match(stdout, /docs\/operations\.md#a-second-stack-on-one-machine/);
    assert.doesNotMatch(stdout, /^kafka /m, "no dev Kafka started");
  } finally {
    taken.close();
  }
});
