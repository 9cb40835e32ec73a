import assert from "node:assert/strict";
import { OTLP_WORKER_FILES } from "../otlp_post.ts";
import { startOtlpReceiver } from "../../ops/otlp_receiver.ts";

const ROOT = new URL("../../", import.meta.url);
const FIXTURE = new URL("../testing/trace_export_fixture.ts", import.meta.url).pathname;

async function runFixture(readFlag: string[]): Promise<{ lines: string[]; stats: unknown }> {
  const receiver = startOtlpReceiver();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-env",
        ...readFlag,
        FIXTURE,
        receiver.endpoint,
      ],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
    const lines = text.trim().split("\n");
    assert.deepEqual(receiver.counts(), { fixture: 3 });
    return { lines, stats: JSON.parse(lines.at(-1)!) };
  } finally {
    await receiver.close();
  }
}

Deno.test("a process allowed to read the worker's files exports its spans from the worker", async () => {
  const { lines, stats } = await runFixture([`--allow-read=${OTLP_WORKER_FILES.join(",")}`]);
  assert.deepEqual(stats, { queued: 0, exported: 3, dropped: 0, failed: 0 });
  assert.ok(!lines.some((l) => l.includes("main thread")), lines.join("\n"));
});

Deno.test("a process without that permission exports on its main thread and says how to change it", async () => {
  const { lines, stats } = await runFixture([]);
  assert.deepEqual(stats, { queued: 0, exported: 3, dropped: 0, failed: 0 });
  const line = lines.map((l) => JSON.parse(l)).find((l) =>
    l.msg === "Exporting spans on the main thread"
  );
  assert.ok(line, lines.join("\n"));
  assert.match(
    line.hint,
    /--allow-read=shared\/otlp_worker\.ts,shared\/otlp_post\.ts,shared\/otlp_proto\.ts/,
  );
});

Deno.test("every traced service's task grants the export worker's files", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    tasks: Record<string, string>;
  };
  for (const task of ["producer", "bridge", "detector", "notifier"]) {
    const command = config.tasks[task]!;
    const read = command.split(" ").find((a) =>
      a === "--allow-read" || a.startsWith("--allow-read=")
    );
    assert.ok(read, `${task}: no --allow-read`);
    if (read === "--allow-read") continue; // everything
    const paths = read.slice("--allow-read=".length).split(",");
    for (const f of OTLP_WORKER_FILES) assert.ok(paths.includes(f), `${task} task misses ${f}`);
  }
});
