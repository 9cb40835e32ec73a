/**
 * Several detector instances over partitioned streams (VIGIL_PARTITIONS=4):
 * they share the partitions, every anomaly is reported exactly once (the
 * per-user and per-status rules through their projection streams), and when
 * one instance stops the other takes its partitions over and continues
 * their windows from the checkpoints.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/wait";
import { unitsFor } from "@vigil/shared/partitions";
import { appendRouted, pendingCount, readAlerts, readRows, startDetector } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const P = 4;

Deno.test(
  "two detectors share 4 partitions and report every anomaly exactly once",
  opts,
  async () => {
    await withPg(({ sql }) =>
      withRedis(async ({ redis, keys }) => {
        const settings = { partitions: P, leaseTtlMs: 1500 };
        const a = await startDetector({ sql, keys, redis }, { settings });
        const b = await startDetector({ sql, keys, redis }, { settings });
        try {
          const all = unitsFor(P).length;
          await waitFor(() =>
            a.detector.owned().length + b.detector.owned().length === all &&
            a.detector.owned().length > 0 && b.detector.owned().length > 0, {
            timeoutMs: 15_000,
            what: "the partitions shared by both",
          });
          const base = Date.now() - 5 * 60_000;
          const at = (ms: number) => new Date(base + ms).toISOString();
          const logs = [];
          // 40 services with 20 errors each: every window has exactly the threshold,
          // so a window split between instances would never fire.
          for (let i = 0; i < 20; i++) {
            for (let s = 0; s < 40; s++) {
              logs.push({
                timestamp: at(i * 1000 + s),
                service: `svc-${s}`,
                level: "ERROR",
                message: "x",
              });
            }
          }
          // One user's 10 logs spread over 10 services (user_spike: per user, not per service).
          for (let i = 0; i < 10; i++) {
            logs.push({
              timestamp: at(i * 100),
              service: `web-${i}`,
              level: "INFO",
              message: "y",
              user_id: "roamer",
            });
          }
          const tx = [];
          for (let u = 0; u < 30; u++) {
            for (let i = 0; i < 5; i++) {
              tx.push({
                timestamp: at(u * 10 + i * 1000),
                transaction_id: `t${u}-${i}`,
                user_id: `user-${u}`,
                amount: 10,
                currency: "EUR",
                status: "approved",
              });
            }
          }
          // A problem status without a baseline: status_zscore CRITICAL, once.
          tx.push({
            timestamp: at(60_000),
            transaction_id: "f1",
            user_id: "solo",
            amount: 10,
            currency: "EUR",
            status: "failed",
          });
          await appendRouted(redis, keys, "logs", logs, P);
          await appendRouted(redis, keys, "transactions", tx, P);
          const expected = 40 + 1 + 30 + 1;
          await waitFor(async () => (await readRows(sql)).length >= expected, {
            what: `${expected} rows`,
          });
          // Each row is published after it is stored (the transactions' too, whose streams are
          // not among the ones checked for acknowledgement here).
          await waitFor(async () =>
            (await pendingCount(redis, keys, "logs", P)) === 0 &&
            (await pendingCount(redis, keys, "logs_by_user", P)) === 0 &&
            (await readAlerts(redis, keys)).length >= expected, {
            what: "everything acknowledged and published",
          });
          await new Promise((r) => setTimeout(r, 300));
          const rows = await readRows(sql);
          assert.equal(rows.length, expected);
          const logical = new Set(rows.map((r) => `${r.rule}|${r.entity}|${r.severity}`));
          assert.equal(logical.size, expected);
          assert.ok(logical.has("user_spike|roamer|WARNING"), "per user, across services");
          assert.ok(logical.has("status_zscore|failed|CRITICAL"), "per status, across users");
          assert.equal((await readAlerts(redis, keys)).length, expected);
          // Both instances did part of the work.
          for (const d of [a, b]) {
            assert.match(
              await d.registry.render(),
              /vigil_detector_anomalies_total\{rule="error_spike"/,
            );
          }
        } finally {
          await a.stop();
          await b.stop();
        }
      })
    );
  },
);

Deno.test(
  "when one of two detectors stops, the other takes its partitions and continues their windows",
  opts,
  async () => {
    await withPg(({ sql }) =>
      withRedis(async ({ redis, keys }) => {
        const settings = { partitions: P, leaseTtlMs: 1500, checkpointIntervalMs: 0 };
        const first = await startDetector({ sql, keys, redis }, { settings });
        const second = await startDetector({ sql, keys, redis }, { settings });
        try {
          await waitFor(
            () => first.detector.owned().length > 0 && second.detector.owned().length > 0,
            {
              timeoutMs: 15_000,
              what: "both consuming",
            },
          );
          const at = (ms: number) => new Date(Date.now() - 60_000 + ms).toISOString();
          const spike = (service: string) =>
            Array.from(
              { length: 10 },
              (_, i) => ({ timestamp: at(i * 100), service, level: "ERROR", message: "x" }),
            );
          const services = Array.from({ length: 12 }, (_, i) => `svc-${i}`);
          // 10 errors of each service now, 10 more after the stop: each window spans both.
          await appendRouted(redis, keys, "logs", services.flatMap(spike), P);
          await waitFor(async () => (await pendingCount(redis, keys, "logs", P)) === 0, {
            what: "first half acknowledged",
          });
          assert.equal((await readRows(sql)).length, 0);
          const moved = first.detector.owned().filter((u) => u.startsWith("logs:"));
          const started = Date.now();
          await first.stop(); // leaves: releases its leases after its checkpoints
          await waitFor(() => second.detector.owned().length === unitsFor(P).length, {
            timeoutMs: 10_000,
            what: "the other instance owning every partition",
          });
          const takeoverMs = Date.now() - started;
          await appendRouted(redis, keys, "logs", services.flatMap(spike), P);
          await waitFor(async () => (await readRows(sql)).length === services.length, {
            timeoutMs: 20_000,
            what: "every window completed",
          });
          assert.deepEqual(
            (await readRows(sql)).map((r) => r.entity).sort(),
            [...services].sort(),
            `each service once (partitions moved: ${moved.join(", ")}; takeover ${takeoverMs} ms)`,
          );
        } finally {
          await first.stop();
          await second.stop();
        }
      })
    );
  },
);
