import assert from "node:assert/strict";
import { archiveLine, objectKey } from "@vigil/archive/format";
import { createDirStore } from "@vigil/archive/store";
import { createDirLister } from "../archive_lookup.ts";
import { getJson, insertAnomalies, sendJson, withWebApp } from "./_helpers.ts";
import { gzip } from "@vigil/tools/testing/archive";

// ioredis keeps timers after disconnect; the helpers still close every client.
const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const T0 = Date.parse("2025-03-01T12:00:00Z");

/** An archive object's body as the archive writes it: the lines of offsets `from`..`to`. */
function archived(partition: number, from: number, to: number, ms: number): Promise<Uint8Array> {
  const lines = Array.from({ length: to - from + 1 }, (_, i) =>
    archiveLine({
      topic: "metrics",
      partition,
      offset: String(from + i),
      timestamp: String(ms),
      key: null,
      value: new TextEncoder().encode("{}"),
    }) + "\n");
  return gzip(lines.join(""));
}

type Item = { id: string; detected_at: string; status: string; severity: string };
const ids = (body: Record<string, unknown>) => (body.items as Item[]).map((i) => i.id);

Deno.test(
  "GET /api/anomalies filters by type, severity, rule, entity, time, resolved, acknowledged",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [
        { id: "a", detected_at: new Date(T0 + 1000), type: "metrics", severity: "WARNING" },
        {
          id: "b",
          detected_at: new Date(T0 + 2000),
          type: "logs",
          severity: "CRITICAL",
          rule: "error_rate",
        },
        {
          id: "c",
          detected_at: new Date(T0 + 3000),
          type: "transactions",
          severity: "INFO",
          entity: "u-1",
        },
        {
          id: "d",
          detected_at: new Date(T0 + 4000),
          type: "metrics",
          severity: "CRITICAL",
          resolved_at: new Date(T0 + 5000),
        },
        {
          id: "e",
          detected_at: new Date(T0 + 5000),
          type: "logs",
          severity: "WARNING",
          acknowledged_at: new Date(T0 + 6000),
        },
      ]);
      const cases: [string, string[]][] = [
        ["", ["e", "d", "c", "b", "a"]],
        ["?type=metrics", ["d", "a"]],
        ["?type=metrics,logs", ["e", "d", "b", "a"]],
        ["?severity=critical", ["d", "b"]],
        ["?severity=WARNING,CRITICAL&type=logs", ["e", "b"]],
        ["?rule=error_rate", ["b"]],
        ["?entity=u-1", ["c"]],
        [`?from=${T0 + 2000}&to=${T0 + 4000}`, ["c", "b"]],
        [`?from=${new Date(T0 + 4000).toISOString()}`, ["e", "d"]],
        ["?resolved=true", ["d"]],
        ["?resolved=false&type=metrics", ["a"]],
        ["?acknowledged=true", ["e"]],
        ["?acknowledged=false", ["d", "c", "b", "a"]],
        ["?acknowledged=false&resolved=false&type=metrics", ["a"]],
        ["?entity=nobody", []],
      ];
      for (const [query, expected] of cases) {
        const { status, body } = await getJson(app, `/api/anomalies${query}`);
        assert.equal(status, 200, query);
        assert.deepEqual(ids(body), expected, query);
      }
      const { body } = await getJson(app, "/api/anomalies?type=metrics");
      const first = (body.items as Item[])[0]!;
      assert.equal(first.status, "resolved");
      assert.equal(first.detected_at, new Date(T0 + 4000).toISOString());
    });
  },
);

Deno.test(
  "GET /api/anomalies pages with a cursor: every row once, newest first, ties by id",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      // 23 rows, several sharing a timestamp (sub-millisecond ones too), so ties are exercised.
      const rows = Array.from({ length: 23 }, (_, i) => ({
        id: `r${String(i).padStart(2, "0")}`,
        detected_at: new Date(T0 + Math.floor(i / 3) * 1000),
        type: i % 2 ? "logs" as const : "metrics" as const,
      }));
      await insertAnomalies(sql, rows);
      await sql`UPDATE anomaly_events SET detected_at = detected_at + interval '0.000250 seconds'
      WHERE id IN ('r00', 'r04')`;
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : "";
        const { status, body } = await getJson(app, `/api/anomalies?limit=5${q}`);
        assert.equal(status, 200);
        seen.push(...ids(body));
        cursor = body.next_cursor as string | null;
        pages++;
      } while (cursor && pages < 20);
      assert.equal(pages, 5);
      assert.equal(seen.length, 23);
      assert.equal(new Set(seen).size, 23);
      const all = await sql<{ id: string }[]>`
      SELECT id FROM anomaly_events ORDER BY detected_at DESC, id DESC`;
      assert.deepEqual(seen, all.map((r) => r.id));

      // Paging combined with a filter.
      const first = await getJson(app, "/api/anomalies?limit=4&type=logs");
      const second = await getJson(
        app,
        `/api/anomalies?limit=4&type=logs&cursor=${first.body.next_cursor}`,
      );
      const logs = [...ids(first.body), ...ids(second.body)];
      assert.equal(logs.length, 8);
      assert.ok(logs.every((id) => Number(id.slice(1)) % 2 === 1));
    });
  },
);

Deno.test(
  "GET /api/anomalies pages rows sharing a sub-millisecond detected_at (one batch's now()) one by one",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      // The detector stores a batch's anomalies in one transaction: detected_at = now(), the same
      // microseconds for all of them. A cursor cut to milliseconds skipped the rest of the batch.
      const at = new Date("2025-06-01T10:00:00Z");
      await insertAnomalies(
        sql,
        ["b1", "b2", "b3", "b4", "c1"].map((id) => ({ id, detected_at: at })),
      );
      await sql`UPDATE anomaly_events SET detected_at = '2025-06-01T10:00:00.123456Z'
        WHERE id LIKE 'b%'`;
      await sql`UPDATE anomaly_events SET detected_at = '2025-06-01T09:00:00.000001Z'
        WHERE id = 'c1'`;
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const q: string = cursor ? `&cursor=${cursor}` : "";
        const { status, body } = await getJson(app, `/api/anomalies?limit=1${q}`);
        assert.equal(status, 200);
        seen.push(...ids(body));
        cursor = body.next_cursor as string | null;
        if (!cursor) break;
      }
      assert.deepEqual(seen, ["b4", "b3", "b2", "b1", "c1"]);
    });
  },
);

Deno.test("GET /api/anomalies answers 400 with a clear message for bad queries", opts, async () => {
  await withWebApp(async ({ app }) => {
    const cases: [string, RegExp][] = [
      ["?severity=LOUD", /severity/],
      ["?type=metrics,bogus", /type/],
      ["?limit=0", /limit/],
      ["?limit=100000", /limit/],
      ["?from=yesterday", /from: must be an ISO 8601 time/],
      [`?from=${T0}&to=${T0 - 1}`, /from must be before to/],
      ["?resolved=maybe", /resolved: must be true or false/],
      ["?colour=red", /Unrecognized key|colour/],
      ["?cursor=not-a-cursor", /Cannot read cursor/],
      // Times PostgreSQL cannot read (a 500 before): year 0, past year 9999.
      ["?from=0000-01-01T00:00:00Z", /from: must be between 0001-01-01 and 9999-12-31/],
      ["?to=9999-12-31T23:59:59-12:00", /to: must be between 0001-01-01 and 9999-12-31/],
      ["?to=253402300800000", /to: must be between 0001-01-01 and 9999-12-31/],
    ];
    for (const [query, pattern] of cases) {
      const { status, body, res } = await getJson(app, `/api/anomalies${query}`);
      assert.equal(status, 400, query);
      assert.equal(typeof body.error, "string", query);
      assert.match(body.error as string, pattern, query);
      assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    }
  });
});

Deno.test(
  "GET /api/anomalies/:id returns the anomaly with its evidence from the stream and the archive object",
  opts,
  async () => {
    // The raw archive as the archive service writes it: a batch of partition 2 that began at
    // 13:00:30 (offsets 30..) and one of partition 1 that began at 12:10 (offsets 0..).
    const archiveDir = await Deno.makeTempDir({ prefix: "vigil-web-archive-" });
    const store = createDirStore(archiveDir);
    const at = (ms: number) => String(ms);
    await store.put(
      objectKey("raw", {
        topic: "metrics",
        partition: 2,
        offset: "30",
        timestamp: at(T0 + 3_630_000),
      }),
      await archived(2, 30, 49, T0 + 3_630_000),
    );
    await store.put(
      objectKey("raw", {
        topic: "metrics",
        partition: 1,
        offset: "0",
        timestamp: at(T0 + 600_000),
      }),
      await archived(1, 0, 9, T0 + 600_000),
    );
    await withWebApp(async ({ app, sql, redis, keys }) => {
      const stream = keys.events("metrics");
      const event = {
        ts: "2025-03-01T12:00:00.000Z",
        service: "checkout",
        name: "latency_ms",
        value: 950,
      };
      const id = await redis.xadd(
        stream,
        "*",
        "data",
        JSON.stringify(event),
        "topic",
        "metrics",
        "partition",
        "2",
        "offset",
        "41",
        "key",
        "checkout",
        "ingest_ts",
        String(T0 + 61 * 60_000),
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      );
      await insertAnomalies(sql, [{
        id: "x1",
        detected_at: new Date(T0),
        details: { value: 950, threshold: 500 },
        evidence: [
          { stream, stream_id: id!, topic: "metrics", partition: 2, offset: "41" },
          { stream, stream_id: "1-0", topic: "metrics", partition: 1, offset: "7" },
          {
            stream: "someone-else:secret",
            stream_id: "1-0",
            topic: "metrics",
            partition: 0,
            offset: "1",
          },
          { broken: true },
        ],
      }]);
      const { status, body } = await getJson(app, "/api/anomalies/x1");
      assert.equal(status, 200);
      const anomaly = body.anomaly as Record<string, unknown>;
      assert.equal(anomaly.id, "x1");
      assert.deepEqual(anomaly.details, { value: 950, threshold: 500 });
      const evidence = body.evidence as Record<string, unknown>[];
      assert.equal(evidence.length, 3); // the malformed entry is dropped
      assert.equal(evidence[0]!.available, true);
      assert.deepEqual(evidence[0]!.event, event);
      assert.equal(evidence[0]!.partition, 2);
      assert.equal(evidence[0]!.offset, "41");
      assert.equal(
        evidence[0]!.traceparent,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      );
      assert.deepEqual(evidence[0]!.archive, {
        folder: "raw/metrics/dt=2025-03-01/hour=13/",
        object_pattern: "2-*.ndjson.gz",
        object: "raw/metrics/dt=2025-03-01/hour=13/2-30.ndjson.gz",
        lookup: "found",
        url: "s3://vigil-archive/raw/metrics/dt=2025-03-01/hour=13/2-30.ndjson.gz",
      });
      // Trimmed from the stream: found in the archive by the anomaly's event time.
      assert.equal(evidence[1]!.available, false);
      assert.match(evidence[1]!.problem as string, /trimmed/);
      assert.deepEqual(evidence[1]!.archive, {
        folder: "raw/metrics/dt=2025-03-01/hour=12/",
        object_pattern: "1-*.ndjson.gz",
        object: "raw/metrics/dt=2025-03-01/hour=12/1-0.ndjson.gz",
        lookup: "found",
        url: "s3://vigil-archive/raw/metrics/dt=2025-03-01/hour=12/1-0.ndjson.gz",
      });
      assert.equal(evidence[2]!.available, false);
      assert.match(evidence[2]!.problem as string, /not one of this service's event streams/);
      // Partition 0 has no object yet (the archive flushes about once a minute).
      assert.equal((evidence[2]!.archive as { lookup: string }).lookup, "not_archived");
      assert.equal((evidence[2]!.archive as { object: string | null }).object, null);
      assert.equal(body.silenced_by, null);

      const missing = await getJson(app, "/api/anomalies/nope");
      assert.equal(missing.status, 404);
      assert.match(missing.body.error as string, /Cannot find anomaly "nope"/);
    }, { archive: createDirLister(archiveDir) }).finally(() =>
      Deno.remove(archiveDir, { recursive: true })
    );
  },
);

Deno.test(
  "GET /api/anomalies/:id finds the archive object of an event the bridge ingested hours late",
  opts,
  async () => {
    // The archive read the event from Kafka at once (its batch began at 12:00:10, Kafka time);
    // the bridge was down and appended it to the stream five hours later.
    const archiveDir = await Deno.makeTempDir({ prefix: "vigil-web-archive-" });
    const store = createDirStore(archiveDir);
    const key = objectKey("raw", {
      topic: "metrics",
      partition: 3,
      offset: "100",
      timestamp: String(T0 + 10_000),
    });
    await store.put(key, await archived(3, 100, 130, T0 + 10_000));
    await withWebApp(async ({ app, sql, redis, keys }) => {
      const stream = keys.events("metrics");
      const event = { timestamp: new Date(T0 + 15_000).toISOString(), service: "checkout" };
      const id = await redis.xadd(
        stream,
        "*",
        "data",
        JSON.stringify(event),
        "topic",
        "metrics",
        "partition",
        "3",
        "offset",
        "120",
        "key",
        "checkout",
        "ingest_ts",
        String(T0 + 5 * 3_600_000 + 40_000),
      );
      await insertAnomalies(sql, [{
        id: "late1",
        detected_at: new Date(T0 + 5 * 3_600_000 + 41_000),
        event_time: new Date(T0 + 15_000),
        evidence: [{ stream, stream_id: id!, topic: "metrics", partition: 3, offset: "120" }],
      }]);
      const { status, body } = await getJson(app, "/api/anomalies/late1");
      assert.equal(status, 200);
      const [item] = body.evidence as { available: boolean; archive: Record<string, unknown> }[];
      assert.equal(item!.available, true);
      assert.equal(item!.archive.lookup, "found");
      assert.equal(item!.archive.object, key);
      assert.equal(item!.archive.folder, "raw/metrics/dt=2025-03-01/hour=12/");
    }, { archive: createDirLister(archiveDir) }).finally(() =>
      Deno.remove(archiveDir, { recursive: true })
    );
  },
);

Deno.test(
  "POST /api/anomalies/:id/ack requires the bearer token and records who, when and why",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [{ id: "k1", detected_at: new Date(T0) }]);
      const ack = { by: "alice", comment: "looking" };
      const none = await sendJson(app, "POST", "/api/anomalies/k1/ack", ack);
      assert.equal(none.status, 401);
      assert.match(none.body.error as string, /bearer token/);
      const wrong = await sendJson(app, "POST", "/api/anomalies/k1/ack", ack, {
        authorization: "Bearer wrong-token-xxxxxxxx",
      });
      assert.equal(wrong.status, 401);
      const [before] = await sql`SELECT acknowledged_at FROM anomaly_events WHERE id = 'k1'`;
      assert.equal(before!.acknowledged_at, null);

      const bad = await sendJson(app, "POST", "/api/anomalies/k1/ack", { comment: "x" }, AUTH);
      assert.equal(bad.status, 400);
      assert.match(bad.body.error as string, /Cannot read body: by/);
      const spoof = await sendJson(app, "POST", "/api/anomalies/k1/ack", {
        by: "\u202eecila",
      }, AUTH);
      assert.equal(spoof.status, 400);
      assert.match(spoof.body.error as string, /by: bidirectional control U\+202E/);
      // A comment is text on lines: ESC (a terminal's escape sequences through `jq -r`), BEL and C1
      // controls were stored and answered raw.
      for (
        const [comment, code] of [["red \u001b[31m", "001B"], ["\u0007", "0007"], [
          "a\u009bb",
          "009B",
        ]]
      ) {
        const controlled = await sendJson(app, "POST", "/api/anomalies/k1/ack", {
          by: "alice",
          comment,
        }, AUTH);
        assert.equal(controlled.status, 400, comment);
        assert.match(
          controlled.body.error as string,
          new RegExp(`comment: control character U\\+${code} at position`),
        );
      }
      const notJson = await sendJson(app, "POST", "/api/anomalies/k1/ack", "{nope", AUTH);
      assert.equal(notJson.status, 400);
      assert.match(notJson.body.error as string, /not valid JSON/);

      const ok = await sendJson(app, "POST", "/api/anomalies/k1/ack", ack, AUTH);
      assert.equal(ok.status, 200);
      const a = ok.body.anomaly as Record<string, string>;
      assert.equal(a.acknowledged_by, "alice");
      assert.equal(a.ack_comment, "looking");
      assert.ok(Math.abs(Date.parse(a.acknowledged_at!) - Date.now()) < 60_000);
      const missing = await sendJson(app, "POST", "/api/anomalies/zz/ack", ack, AUTH);
      assert.equal(missing.status, 404);
    }, { token: TOKEN });
  },
);

Deno.test("mutating endpoints answer 503 when VIGIL_API_TOKEN is unset", opts, async () => {
  await withWebApp(async ({ app, sql }) => {
    await insertAnomalies(sql, [{ id: "k1", detected_at: new Date(T0) }]);
    const res = await sendJson(app, "POST", "/api/anomalies/k1/ack", { by: "a" }, AUTH);
    assert.equal(res.status, 503);
    assert.match(res.body.error as string, /set VIGIL_API_TOKEN/);
    const read = await getJson(app, "/api/anomalies");
    assert.equal(read.status, 200);
  });
});

Deno.test(
  "WEB_PUBLIC_READ=false closes read endpoints but not /api/health and /metrics",
  opts,
  async () => {
    await withWebApp(async ({ app }) => {
      assert.equal((await getJson(app, "/api/anomalies")).status, 401);
      assert.equal((await getJson(app, "/api/stats")).status, 401);
      assert.equal((await getJson(app, "/api/anomalies", AUTH)).status, 200);
      const health = await getJson(app, "/api/health");
      assert.equal(health.status, 200);
      assert.deepEqual(health.body.checks, { redis: "ok", postgres: "ok", live: "ok" });
      const metrics = await app.request("/metrics");
      assert.equal(metrics.status, 200);
      await metrics.body?.cancel();
    }, { token: TOKEN, publicRead: false });
  },
);

Deno.test(
  "silences: create, list, expire through the API with validation and auth",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      const input = {
        matchers: { rule: "threshold", entity: "checkout" },
        duration: "2h",
        author: "bob",
      };
      assert.equal((await sendJson(app, "POST", "/api/silences", input)).status, 401);
      const invalid = await sendJson(
        app,
        "POST",
        "/api/silences",
        { ...input, matchers: {} },
        AUTH,
      );
      assert.equal(invalid.status, 400);
      assert.match(invalid.body.error as string, /matchers/);
      const created = await sendJson(app, "POST", "/api/silences", input, AUTH);
      assert.equal(created.status, 201);
      const silence = created.body.silence as { id: string; expired_at: string | null };
      assert.equal(silence.expired_at, null);

      const active = await getJson(app, "/api/silences?active=true");
      assert.deepEqual((active.body.items as { id: string }[]).map((s) => s.id), [silence.id]);

      // The anomaly it matches shows the silence in its detail.
      await insertAnomalies(sql, [{
        id: "s1",
        detected_at: new Date(),
        rule: "threshold",
        entity: "checkout",
      }]);
      const detail = await getJson(app, "/api/anomalies/s1");
      assert.equal((detail.body.silenced_by as { id: string }).id, silence.id);

      assert.equal(
        (await app.request(`/api/silences/${silence.id}`, { method: "DELETE" })).status,
        401,
      );
      const expired = await app.request(`/api/silences/${silence.id}`, {
        method: "DELETE",
        headers: AUTH,
      });
      assert.equal(expired.status, 200);
      assert.notEqual(
        ((await expired.json()).silence as { expired_at: string | null }).expired_at,
        null,
      );
      const after = await getJson(app, "/api/silences?active=true");
      assert.deepEqual(after.body.items, []);
      const missing = await app.request("/api/silences/nope", { method: "DELETE", headers: AUTH });
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    }, { token: TOKEN });
  },
);

Deno.test("GET /api/stats counts per minute by type and severity", opts, async () => {
  await withWebApp(async ({ app, sql }) => {
    await insertAnomalies(sql, [
      { id: "1", detected_at: new Date(T0 + 5_000), type: "metrics", severity: "WARNING" },
      { id: "2", detected_at: new Date(T0 + 50_000), type: "metrics", severity: "WARNING" },
      {
        id: "3",
        detected_at: new Date(T0 + 61_000),
        type: "logs",
        severity: "CRITICAL",
        resolved_at: new Date(T0 + 120_000),
      },
      { id: "4", detected_at: new Date(T0 + 7_200_000), type: "logs", severity: "CRITICAL" },
    ]);
    const { status, body } = await getJson(app, `/api/stats?from=${T0}&to=${T0 + 3_600_000}`);
    assert.equal(status, 200);
    assert.deepEqual(body.points, [
      { t: new Date(T0).toISOString(), type: "metrics", severity: "WARNING", count: 2 },
      { t: new Date(T0 + 60_000).toISOString(), type: "logs", severity: "CRITICAL", count: 1 },
    ]);
    assert.deepEqual(body.totals, {
      all: 3,
      open: 2,
      by_severity: { INFO: 0, WARNING: 2, CRITICAL: 1 },
      by_type: { logs: 1, metrics: 2, transactions: 0 },
    });
    const hourly = await getJson(app, `/api/stats?bucket=hour&from=${T0}&to=${T0 + 3 * 3_600_000}`);
    assert.equal((hourly.body.points as unknown[]).length, 3);
    const tooWide = await getJson(app, `/api/stats?from=0&to=${T0}`);
    assert.equal(tooWide.status, 400);
    assert.match(tooWide.body.error as string, /more than 10080 minute buckets/);
  });
});

Deno.test("GET /api/series/:type/:entity reads cached points tolerantly", opts, async () => {
  await withWebApp(async ({ app, redis, keys }) => {
    const key = keys.scores("metrics", "check*out", "latency_ms");
    await redis.sadd(keys.scoreMeasures("metrics"), "latency_ms", "error_rate", "decoy");
    await redis.zadd(
      key,
      T0,
      JSON.stringify({ ts: T0, value: 120, score: 0.4 }),
      T0 + 1000,
      `${T0 + 1000}:3.5:900`,
      T0 + 2000,
      JSON.stringify({ value: 130, score: null, extra: "x" }),
      T0 + 3000,
      "garbage",
    );
    await redis.zadd(keys.scores("metrics", "check*out", "error_rate"), T0, `${T0}:0.1:0.02`);
    await redis.zadd(keys.scores("metrics", "checkXout", "decoy"), T0, `${T0}:0.1:0.02`);
    const one = await getJson(
      app,
      `/api/series/metrics/${encodeURIComponent("check*out")}?measure=latency_ms`,
    );
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.series, [{
      measure: "latency_ms",
      points: [
        { ts: T0, value: 120, score: 0.4 },
        { ts: T0 + 1000, value: 900, score: 3.5 },
        { ts: T0 + 2000, value: 130, score: null },
      ],
      skipped: 1,
    }]);
    const all = await getJson(app, `/api/series/metrics/${encodeURIComponent("check*out")}`);
    assert.deepEqual((all.body.series as { measure: string }[]).map((s) => s.measure), [
      "error_rate",
      "latency_ms",
    ]);
    const limited = await getJson(app, `/api/series/metrics/x?measure=latency_ms&limit=0`);
    assert.equal(limited.status, 400);
    const badType = await getJson(app, "/api/series/bogus/x");
    assert.equal(badType.status, 400);
    assert.match(badType.body.error as string, /Cannot read path: type/);
  });
});

Deno.test(
  "GET /api/series: a measure with ':' cannot read another entity's series",
  opts,
  async () => {
    await withWebApp(async ({ app, redis, keys }) => {
      // Entity "pay:eu:cpu" measure "latency_ms" and entity "pay" measure "eu:cpu:latency_ms" name
      // the same key: the answer would give one entity's readings as another's.
      await redis.zadd(keys.scores("metrics", "pay:eu:cpu", "latency_ms"), T0, `${T0}:0.1:900`);
      const own = await getJson(
        app,
        `/api/series/metrics/${encodeURIComponent("pay:eu:cpu")}?measure=latency_ms`,
      );
      assert.equal((own.body.series as { points: unknown[] }[])[0]!.points.length, 1);
      for (
        const [entity, measure] of [["pay", "eu:cpu:latency_ms"], [
          "pay:eu",
          "cpu:latency_ms",
        ]] as const
      ) {
        const other = await getJson(
          app,
          `/api/series/metrics/${encodeURIComponent(entity)}?measure=${
            encodeURIComponent(measure)
          }`,
        );
        assert.equal(other.status, 400, JSON.stringify(other.body));
        assert.match(other.body.error as string, /measure: must not contain :/);
      }
    });
  },
);

Deno.test(
  "createApp() sets security headers, counts requests by route, and hides internal errors",
  opts,
  async () => {
    await withWebApp(async ({ app, sql, registry }) => {
      const res = await app.request("/api/anomalies");
      await res.body?.cancel();
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      await (await app.request("/api/anomalies/abc")).body?.cancel();
      await (await app.request("/nowhere")).body?.cancel();
      const text = await registry.render();
      assert.match(
        text,
        /vigil_web_http_requests_total\{route="\/api\/anomalies",status="200"\} 1/,
      );
      assert.match(
        text,
        /vigil_web_http_requests_total\{route="\/api\/anomalies\/:id",status="404"\} 1/,
      );
      assert.match(text, /vigil_web_http_requests_total\{route="unmatched",status="404"\} 1/);

      await sql`DROP TABLE anomaly_events`;
      const broken = await getJson(app, "/api/anomalies");
      assert.equal(broken.status, 500);
      assert.deepEqual(broken.body, { error: "Internal error; see the server log" });
    });
  },
);

Deno.test("GET /api/health reports a lost live subscription as degraded (503)", opts, async () => {
  await withWebApp(async ({ app, subscriber }) => {
    assert.equal((await getJson(app, "/api/health")).status, 200);
    subscriber.disconnect();
    // The connection reports its end once the socket closed.
    for (let i = 0; i < 100 && subscriber.status === "ready"; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const health = await getJson(app, "/api/health");
    assert.equal(health.status, 503);
    assert.equal(health.body.status, "degraded");
    assert.deepEqual(health.body.checks, { redis: "ok", postgres: "ok", live: "fail" });
    // Before: no detail at all.
    assert.match(
      (health.body.details as { live: { message: string } }).live.message,
      /^live alerts cut for \d+ s: subscriber not connected \(end\)$/,
    );
  });
});

Deno.test(
  "GET /api/anomalies/:id names its silence among more than 500 active ones (the notifier reads all)",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      const now = Date.now();
      const row = (id: string, entity: string, createdMs: number) => ({
        id,
        matchers: sql.json({ entity }),
        starts_at: new Date(now - 3_600_000),
        ends_at: new Date(now + 3_600_000),
        author: "ops",
        comment: "",
        created_at: new Date(createdMs),
      });
      // The covering silence is the oldest; 500 newer ones are about other entities.
      await sql`INSERT INTO silences ${
        sql([
          row("covering", "checkout", now - 600_000),
          ...Array.from({ length: 500 }, (_, i) => row(`other-${i}`, `host-${i}`, now - i)),
        ])
      }`;
      await insertAnomalies(sql, [{
        id: "s-many",
        detected_at: new Date(now),
        entity: "checkout",
      }]);
      const detail = await getJson(app, "/api/anomalies/s-many");
      assert.equal(detail.status, 200);
      assert.equal((detail.body.silenced_by as { id: string } | null)?.id, "covering");
    });
  },
);

Deno.test(
  "GET /api/anomalies/:id: an inhibited alert released and then sent is no longer 'inhibited'",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      const now = Date.now();
      await insertAnomalies(sql, [{ id: "w-1", detected_at: new Date(now), entity: "api" }]);
      // The notifier took it in while a CRITICAL of api fired: inhibited.
      await sql`INSERT INTO notifier_alerts (stream_id, alert_id, status, type, rule, severity,
          entity, alert, disposition, inhibited_by, received_at)
        VALUES ('1-1', 'w-1', 'firing', 'metrics', 'cpu_high', 'WARNING', 'api', '{}',
          'inhibited', 'c-1', ${new Date(now - 60_000)})`;
      const fate = async () => (await getJson(app, "/api/anomalies/w-1")).body.notifier;
      assert.deepEqual(await fate(), { disposition: "inhibited", inhibited_by: "c-1" });
      // The CRITICAL resolved: the WARNING was released and its group's digest told it.
      await sql`INSERT INTO notifier_digests (id, kind, route, group_key, created_at, alert_ids,
          digest) VALUES ('g-1', 'digest', 'default', 'default|', ${new Date(now)}, '{w-1}', '{}')`;
      await sql`INSERT INTO notifications (digest_id, channel, alert_ids, alert_count, status,
          created_at) VALUES ('g-1', 'email', '{w-1}', 1, 'sent', ${new Date(now)})`;
      assert.equal(await fate(), null, "it was notified after all");
    });
  },
);
