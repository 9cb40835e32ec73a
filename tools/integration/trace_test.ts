/**
 * One trace per event, from the producer to the notification: the real
 * producer, bridge, detector and notifier run as subprocesses (their
 * `deno task` permission flags) against the dev Kafka, Redis and
 * PostgreSQL, exporting to an in-process OTLP/HTTP receiver. An injected
 * `large_amount` scenario must show up as one trace spanning producer →
 * bridge → detector whose id is on the anomaly row, and the digest's span
 * must link to it.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "../testing/kafka.ts";
import { withPg } from "../testing/pg.ts";
import { withRedis } from "../testing/redis.ts";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { type ReceivedSpan, startOtlpReceiver } from "../testing/otlp_receiver.ts";
import { ROOT, type ServiceProcess, spawnService } from "../testing/services.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "an injected anomaly is one trace from producer to detector, on its row and linked from its digest",
  opts,
  async () => {
    await withKafka(
      { brokers: 1, partitions: 3, topics: EVENT_TYPES },
      (cluster) =>
        withPg(({ sql, url }) =>
          withRedis(async ({ prefix, url: redisUrl }) => {
            const receiver = startOtlpReceiver();
            const outbox = `data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
            const env = {
              KAFKA_BROKERS: cluster.brokers.join(","),
              REDIS_URL: redisUrl,
              DATABASE_URL: url,
              VIGIL_PREFIX: prefix,
              OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
              LOG_LEVEL: "info",
            };
            const services: ServiceProcess[] = [];
            try {
              const detector = await spawnService("detector", { ...env, DETECTOR_PORT: "0" });
              services.push(detector);
              await detector.opsPort(60_000);
              const notifier = await spawnService("notifier", {
                ...env,
                NOTIFIER_PORT: "0",
                OUTBOX_DIR: `${ROOT}${outbox}`,
                GROUP_WAIT: "200ms",
                GROUP_INTERVAL: "1s",
              });
              services.push(notifier);
              await notifier.opsPort(60_000);
              const bridge = await spawnService("bridge", { ...env, BRIDGE_PORT: "0" });
              services.push(bridge);
              await bridge.waitForLine(
                (l) => l.msg === "joined consumer group",
                "group join",
                60_000,
              );

              const producer = await spawnService("producer", { ...env, PRODUCER_PORT: "0" }, [
                "--rate=100",
                "--count=50",
                "--scenario=large_amount",
                "--scenario-every=0",
                "--seed=7",
              ]);
              services.push(producer);
              const injected = await producer.waitForLine(
                (l) => l.msg === "scenario injected",
                "the scenario",
              );
              assert.equal((await producer.status).code, 0, producer.tail());
              const traceId = injected.trace_id as string;
              assert.match(traceId, /^[0-9a-f]{32}$/);

              // The anomaly row carries the scenario's trace id.
              let row: Record<string, unknown> | undefined;
              await waitFor(async () => {
                [row] = await sql`SELECT * FROM anomaly_events WHERE rule = 'amount_high'
              AND published_at IS NOT NULL`;
                return row !== undefined;
              }, { timeoutMs: 60_000, what: `the amount_high anomaly\n${detector.tail()}` });
              assert.equal(row!.trace_id, traceId, "the anomaly row holds the producer's trace id");
              const stages: Record<string, number> = {
                ...(row!.stages as Record<string, number>),
                published: (row!.published_at as Date).getTime(),
              };
              for (const stage of ["event", "ingest", "stored"]) {
                assert.equal(typeof stages[stage], "number", `stages.${stage} on the row`);
              }
              assert.ok(stages.event! <= stages.ingest! && stages.ingest! <= stages.stored!);
              assert.ok(stages.stored! <= stages.published!);

              // The receiver sees the trace: producer, bridge and detector spans, one tree.
              const trace = (): ReceivedSpan[] =>
                receiver.spans().filter((s) => s.traceId === traceId);
              await waitFor(
                () =>
                  trace().some((s) => s.service === "detector" && s.name === "anomaly amount_high"),
                { timeoutMs: 30_000, what: "the detector's anomaly span" },
              );
              const spans = trace();
              const byId = new Map(spans.map((s) => [s.spanId, s]));
              const anomaly = spans.find((s) => s.name === "anomaly amount_high")!;
              const chain: ReceivedSpan[] = [anomaly];
              for (let s = anomaly; s.parentSpanId !== undefined;) {
                const parent = byId.get(s.parentSpanId);
                assert.ok(
                  parent,
                  `parent ${s.parentSpanId} of "${s.name}" (${s.service}) was exported`,
                );
                chain.push(s = parent);
              }
              assert.deepEqual(
                chain.map((s) => `${s.service}:${s.name}`),
                [
                  "detector:anomaly amount_high",
                  "detector:detect transactions",
                  "producer:send transactions",
                  "producer:scenario large_amount",
                ],
              );
              assert.deepEqual(chain.map((s) => s.kind), [1, 5, 4, 1]);
              // The bridge leaves the message's creation context unchanged: its span is the
              // send span's child, beside the detector's.
              const bridged = spans.filter((s) => s.service === "bridge");
              assert.deepEqual(
                bridged.map((s) => [s.name, s.kind, s.parentSpanId]),
                [["bridge transactions", 5, chain[2]!.spanId]],
              );
              for (const s of spans) {
                assert.ok(
                  s.parentSpanId === undefined || byId.has(s.parentSpanId),
                  `every span of the trace hangs off the tree: ${s.name}`,
                );
              }
              assert.equal(spans.filter((s) => s.parentSpanId === undefined).length, 1, "one root");
              // Normal events are traced too, each in a trace of its own.
              const produced = receiver.spans().filter((s) =>
                s.service === "producer" && s.name.startsWith("send ")
              );
              assert.ok(produced.length >= 51, `a span per produced event (${produced.length})`);

              // Logs in traced contexts carry the ids.
              const raised = await detector.waitForLine(
                (l) => l.msg === "anomaly raised" && l.trace_id === traceId,
                "the anomaly log line",
              );
              assert.equal(raised.span_id, anomaly.spanId);

              // The alert carries the anomaly span's context, and the digest's span links to it.
              await waitFor(
                () =>
                  receiver.spans().some((s) =>
                    s.service === "notifier" && s.name === "notify email"
                  ),
                { timeoutMs: 30_000, what: `the notifier's span\n${notifier.tail()}` },
              );
              const notify = receiver.spans().find((s) =>
                s.service === "notifier" && s.links?.some((l) => l.traceId === traceId)
              );
              assert.ok(notify, "a digest span links to the anomaly's trace");
              assert.deepEqual(
                notify.links!.filter((l) => l.traceId === traceId).map((l) => l.spanId),
                [anomaly.spanId],
              );
              assert.notEqual(notify.traceId, traceId, "the digest is a trace of its own");
              const sent = await notifier.waitForLine(
                (l) => l.msg === "digest sent" && l.trace_id === notify.traceId,
                "the digest log line",
              );
              assert.equal(sent.span_id, notify.spanId);
              // The notification records every stage, per alert.
              const [n] = await sql`SELECT stages FROM notifications
            WHERE ${row!.id as string} = ANY(alert_ids) AND status = 'sent'`;
              const ns = (n?.stages as Record<string, Record<string, number>>)[row!.id as string]!;
              assert.deepEqual(Object.keys(ns).sort(), [
                "event",
                "ingest",
                "notified",
                "published",
                "stored",
              ]);
              assert.ok(ns.notified! >= ns.published!);
              assert.equal(receiver.rejected, 0);
            } finally {
              for (const s of services.reverse()) await s.stop();
              await receiver.close();
              await Deno.remove(`${ROOT}${outbox}`, { recursive: true }).catch(() => {});
            }
          })
        ),
    );
  },
);
