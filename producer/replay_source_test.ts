import assert from "node:assert/strict";
import type { ProducedMessage } from "./scenario_types.ts";
import { openReplay, type Replay } from "./replay_source.ts";
import { replayMessages, type ReplayOptions } from "./replay.ts";
import { parseReplayCsv, withCsv } from "@vigil/tools/testing/csv";

const SAMPLE = await Deno.readTextFile(
  new URL("./testdata/transactions_raw.csv", import.meta.url),
);

/** Every batch a replay of `data` yields, on a clock its sleeps advance. */
async function batches(data: Replay, options: ReplayOptions = {}): Promise<ProducedMessage[][]> {
  let t = 1_000_000;
  const clock = {
    now: () => t,
    sleep: (ms: number) => Promise.resolve(void (t += ms)),
  };
  const out: ProducedMessage[][] = [];
  for await (const b of replayMessages(data, { speed: 60, ...clock, ...options })) out.push(b);
  return out;
}

const OPEN = { field: "cpu", service: "replay" } as const;

/** Readings at 1 s steps, `n` of them, the value cycling (a file of several read chunks). */
function readings(n: number, order: (i: number) => number = (i) => i): string {
  const t0 = Date.UTC(2025, 0, 1);
  const rows = Array.from({ length: n }, (_, i) => {
    const k = order(i);
    return `${new Date(t0 + k * 1000).toISOString()},${(k * 7) % 100}`;
  });
  return `timestamp,value\n${rows.join("\n")}\n`;
}

const STATUS = "timestamp,status,count\r\n2025-07-12 13:00:10,approved,3\r\n" +
  "2025-07-12 13:00:50,failed,2\r\n2025-07-12 13:01:00,approved,2\r\n2025-07-12 13:03:59,denied,1\r\n";

const FILES: Record<string, string> = {
  "readings, several chunks": readings(6_000),
  "readings, BOM and CRLF": `\uFEFF${readings(50).replaceAll("\n", "\r\n")}`,
  "readings, not in time order": readings(5_000, (i) => (i * 7919) % 5_000),
  "per-minute counts, CRLF": STATUS,
  "raw transactions (the sample)": SAMPLE,
  "raw transactions, not in time order": SAMPLE.split("\n").slice(0, 1).concat(
    SAMPLE.trim().split("\n").slice(1).reverse(),
  ).join("\n"),
};

Deno.test("openReplay() of a file replays exactly what its text does, streamed when in time order", async (t) => {
  for (const [name, text] of Object.entries(FILES)) {
    await t.step(name, async () => {
      const held = await batches(parseReplayCsv(text, OPEN), { seed: 7 });
      await withCsv(text, async (path) => {
        const data = await openReplay(path, OPEN);
        const sorted = !/not in time order/.test(name);
        assert.equal("streamed" in data, sorted, "a file in time order is read as it is sent");
        assert.deepEqual(await batches(data, { seed: 7 }), held);
        // A second replay of the same opening reads the file again.
        if (sorted) assert.deepEqual(await batches(data, { seed: 7 }), held);
      });
    });
  }
});

Deno.test("openReplay() streamed, stops mid-file without leaving the file open", async () => {
  await withCsv(readings(20_000), async (path) => {
    const data = await openReplay(path, OPEN);
    const stop = new AbortController();
    let n = 0;
    for await (const b of replayMessages(data, { speed: "max", maxBatch: 100 }, stop.signal)) {
      n += b.length;
      if (n >= 300) stop.abort();
    }
    assert.equal(n, 300);
    // The test's resource sanitizer fails it if the file is still open.
  });
});

Deno.test("openReplay('-') reads standard input: its rows held, sorted, replayed as the text's", async () => {
  for (const text of [FILES["readings, not in time order"]!, STATUS]) {
    const bytes = new TextEncoder().encode(text);
    // In small pieces, as a pipe brings them.
    const stdin = () =>
      ReadableStream.from(
        Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, i) =>
          bytes.slice(i * 1000, (i + 1) * 1000)),
      );
    const data = await openReplay("-", { ...OPEN, stdin });
    assert.ok(!("streamed" in data));
    assert.deepEqual(await batches(data), await batches(parseReplayCsv(text, OPEN)));
  }
});

Deno.test("openReplay() of a named pipe reads it once, its rows held", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/replay.csv`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success);
    const text = FILES["readings, several chunks"]!;
    const [data] = await Promise.all([openReplay(fifo, OPEN), Deno.writeTextFile(fifo, text)]);
    assert.ok(!("streamed" in data));
    assert.deepEqual(await batches(data), await batches(parseReplayCsv(text, OPEN)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openReplay() refuses a bad file as parseReplayCsv does, with its line, before any send", async (t) => {
  const cases = [
    "",
    "\n\n",
    "timestamp,value\n",
    "time;value\n1,2\n",
    "timestamp,value\n2025-01-01T00:00:00Z,1\n2025-01-01T00:00:01Z,x\n",
    // A bad row after the rows go out of time order: found by the holding read.
    "timestamp,value\n2025-01-01T00:00:05Z,1\n2025-01-01T00:00:01Z,2\n2025-01-01T00:00:09Z,bad\n",
    `timestamp,value\n2025-01-01T00:00:00Z,"1\n2025-01-01T00:00:01Z,2\n`,
    "timestamp,status,count\n2025-01-01T00:00:00Z,lost,1\n",
    "timestamp,status,amount\n2025-01-01T00:00:00Z,approved,2e12\n",
  ];
  for (const text of cases) {
    await t.step(JSON.stringify(text).slice(0, 60), async () => {
      const expected = (() => {
        try {
          parseReplayCsv(text, OPEN);
        } catch (error) {
          return error as Error;
        }
        assert.fail("parseReplayCsv() accepted it");
      })();
      await withCsv(text, async (path) => {
        await assert.rejects(() => openReplay(path, OPEN), {
          name: expected.name,
          message: expected.message,
        });
      });
    });
  }
  await t.step("a latency the metric schema refuses", async () => {
    const text = "timestamp,value\n2025-01-01T00:00:00Z,1\n2025-01-01T00:00:01Z,90000000\n";
    await withCsv(text, async (path) => {
      await assert.rejects(() => openReplay(path, { ...OPEN, field: "latency_ms" }), {
        name: "SyntaxError",
        message: /^Cannot parse replay file: line 3: value 90000000 is not a valid latency_ms/,
      });
    });
  });
  await t.step("a missing file, a directory", async () => {
    await assert.rejects(() => openReplay("/nonexistent/replay.csv", OPEN), {
      message: /^Cannot read replay file \/nonexistent\/replay\.csv: No such file/,
    });
    const dir = await Deno.makeTempDir();
    await assert.rejects(() => openReplay(dir, OPEN), {
      message: `Cannot read replay file ${dir}: it is a directory`,
    });
    await Deno.remove(dir);
  });
});

Deno.test("openReplay() streamed: a file changed after it was checked stops the replay with an error", async () => {
  await withCsv(readings(100), async (path) => {
    const data = await openReplay(path, OPEN);
    await Deno.writeTextFile(path, readings(100).replace(/,42\n/, ",x\n"));
    await assert.rejects(() => batches(data, { speed: "max" }), {
      message: new RegExp(
        `^Cannot replay ${path}: the file changed while it was replayed \\(.*line \\d+: value "x"`,
      ),
    });
    await Deno.writeTextFile(path, readings(60));
    await assert.rejects(() => batches(data, { speed: "max" }), {
      message: /the file changed while it was replayed \(60 rows, not 100\)/,
    });
  });
});

Deno.test("openReplay() stops reading when its signal aborts", async () => {
  await withCsv(readings(20_000), async (path) => {
    const stop = new AbortController();
    stop.abort();
    await assert.rejects(() => openReplay(path, { ...OPEN, signal: stop.signal }), {
      name: "AbortError",
    });
  });
});

Deno.test("openReplay() stops when its signal aborts while its input is idle (Ctrl-C)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/replay.csv`;
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const stop = new AbortController();
    const opening = openReplay(fifo, { ...OPEN, signal: stop.signal });
    // A writer that neither writes nor closes: the reading waits for its first bytes.
    const writer = await Deno.open(fifo, { write: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      stop.abort();
      const stuck = new Promise((resolve) => {
        timer = setTimeout(() => resolve("stuck"), 20_000);
      });
      const outcome = await Promise.race([opening.then(() => "opened", (e) => e), stuck]);
      assert.ok(outcome instanceof Error && outcome.name === "AbortError", String(outcome));
    } finally {
      clearTimeout(timer);
      writer.close();
      await opening.catch(() => {});
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openReplay() streamed: rows appended while it is replayed are not sent (stamped ahead of the clock)", async () => {
  await withCsv(readings(100), async (path) => {
    const data = await openReplay(path, OPEN);
    // Appended by another process: rows after the last one checked, whose times the stamping
    // did not take into account (they were sent, stamped up to their data time ahead of now).
    await Deno.writeTextFile(path, readings(200));
    const sent: ProducedMessage[] = [];
    await assert.rejects(
      async () => {
        for await (const b of replayMessages(data, { speed: "max" })) sent.push(...b);
      },
      { message: /the file changed while it was replayed \(more than 100 rows\)/ },
    );
    assert.ok(sent.length <= 100, `${sent.length} events sent`);
    const checked = Date.UTC(2025, 0, 1) + 99_000;
    const times = sent.map((m) => Date.parse(JSON.parse(m.value as string).timestamp));
    assert.ok(times.every((t) => t - times[0]! <= checked - Date.UTC(2025, 0, 1)));
  });
});
