/**
 * One trace per event, from the producer to the notification: the real
 * producer, bridge, detector and notifier run as subprocesses (their
 * `deno task` permission flags) with Deno's built-in OpenTelemetry on
 * (`OTEL_DENO=true`), against the dev Kafka, Redis and PostgreSQL, exporting
 * OTLP http/json to a receiver in this test. An injected `large_amount`
 * scenario must show up as one trace producer → anomaly → notification whose
 * id is on the anomaly row, and the bridge's and detector's batch spans must
 * link to the message's creation context.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "../testing/kafka.ts";
import { withPg } from "../testing/pg.ts";
import { withRedis } from "../testing/redis.ts";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { type ReceivedSpan, startSpanReceiver, tracingEnv } from "../testing/otel.ts";
import { ROOT, type ServiceProcess, spawnService } from "../testing/services.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "an injected anomaly is one trace from producer to notification, linked from the batch spans",
  opts,
  async () => {
    await withKafka(
      { brokers: 1, partitions: 3, topics: EVENT_TYPES },
      (cluster) =>
        withPg(({ sql, url }) =>
          withRedis(async ({ prefix, url: redisUrl }) => {
            const receiver = startSpanReceiver();
            const outbox = `data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
            const env = {
              KAFKA_BROKERS: cluster.brokers.join(","),
              REDIS_URL: redisUrl,
              DATABASE_URL: url,
              VIGIL_PREFIX: prefix,
              LOG_LEVEL: "info",
            };
            const services: ServiceProcess[] = [];
            try {
              const detector = await spawnService("detector", {
                ...env,
                ...tracingEnv("detector", receiver.endpoint),
                DETECTOR_PORT: "0",
              });
              services.push(detector);
              await detector.opsPort(60_000);
              const notifier = await spawnService("notifier", {
                ...env,
                ...tracingEnv("notifier", receiver.endpoint),
                NOTIFIER_PORT: "0",
                OUTBOX_DIR: `${ROOT}${outbox}`,
                GROUP_WAIT: "200ms",
                GROUP_INTERVAL: "1s",
              });
              services.push(notifier);
              await notifier.opsPort(60_000);
              const bridge = await spawnService("bridge", {
                ...env,
                ...tracingEnv("bridge", receiver.endpoint),
                BRIDGE_PORT: "0",
              });
              services.push(bridge);
              await bridge.waitForLine(
                (l) => l.msg === "joined consumer group",
                "group join",
                60_000,
              );

              const producer = await spawnService("producer", {
                ...env,
                ...tracingEnv("producer", receiver.endpoint),
                PRODUCER_PORT: "0",
              }, [
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

              // The receiver sees the trace: producer, detector and notifier spans, one tree.
              const trace = (): ReceivedSpan[] =>
                receiver.spans().filter((s) => s.traceId === traceId);
              // Each service exports its spans on its own timer (every 200 ms, later on a busy
              // machine): the notifier's can arrive before the detector's. Wait for the notify
              // span's whole chain up to the root, and for the batch spans linking to the send.
              const rooted = () => {
                const spans = trace();
                const byId = new Map(spans.map((s) => [s.spanId, s]));
                let s = spans.find((s) => s.service === "notifier" && s.name === "notify email");
                for (let i = 0; s?.parentSpanId !== undefined && i < 10; i++) {
                  s = byId.get(s.parentSpanId);
                }
                return s !== undefined && s.parentSpanId === undefined;
              };
              const linked = (service: string) =>
                receiver.spans().some((s) =>
                  s.service === service && s.links.some((l) => l.traceId === traceId)
                );
              await waitFor(() => rooted() && linked("bridge") && linked("detector"), {
                timeoutMs: 60_000,
                what: `the trace's notify span and its parents\n${notifier.tail()}`,
              });
              const spans = trace();
              const byId = new Map(spans.map((s) => [s.spanId, s]));
              const notify = spans.find((s) => s.name === "notify email")!;
              const chain: ReceivedSpan[] = [notify];
              for (let s = notify; s.parentSpanId !== undefined;) {
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
                  "notifier:notify email",
                  "detector:anomaly amount_high",
                  "producer:send transactions",
                  "producer:scenario large_amount",
                ],
              );
              // client, internal, producer, internal
              assert.deepEqual(chain.map((s) => s.kind), [3, 1, 4, 1]);
              const [, anomaly, send] = chain as [ReceivedSpan, ReceivedSpan, ReceivedSpan];
              for (const s of spans) {
                assert.ok(
                  s.parentSpanId === undefined || byId.has(s.parentSpanId),
                  `every span of the trace hangs off the tree: ${s.name}`,
                );
              }
              assert.equal(spans.filter((s) => s.parentSpanId === undefined).length, 1, "one root");

              // The bridge and the detector: one consumer span per batch, a root linked to
              // each message's creation context (the stream entry kept the header as sent).
              for (const [service, name] of [["bridge", "process"], ["detector", "detect"]]) {
                const batch = receiver.spans().find((s) =>
                  s.service === service && s.links.some((l) => l.spanId === send.spanId)
                );
                assert.ok(batch, `a ${service} span links to the send span`);
                assert.equal(batch.name, `${name} transactions`);
                assert.equal(batch.kind, 5, "consumer");
                assert.equal(batch.parentSpanId, undefined, "a batch span is a root");
                assert.notEqual(batch.traceId, traceId);
                assert.deepEqual(
                  batch.links.filter((l) => l.spanId === send.spanId),
                  [{ traceId, spanId: send.spanId }],
                );
                const count = Number(batch.attributes["messaging.batch.message_count"]);
                assert.ok(count >= batch.links.length, `${service}: message count ${count}`);
              }
              const bridgeSpan = receiver.spans().find((s) =>
                s.service === "bridge" && s.links.some((l) => l.spanId === send.spanId)
              )!;
              assert.equal(bridgeSpan.attributes["messaging.system"], "kafka");
              assert.equal(bridgeSpan.attributes["messaging.destination.name"], "transactions");
              assert.match(
                String(bridgeSpan.attributes["messaging.destination.partition.id"]),
                /^\d$/,
              );

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
              const sent = await notifier.waitForLine(
                (l) => l.msg === "digest sent" && l.trace_id === traceId,
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
              assert.equal(receiver.rejected(), 0);
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
