/**
 * Every service's `/metrics` after a short end-to-end run: the producer,
 * bridge, archive, detector, notifier and web run as subprocesses (their
 * `deno task` permission flags) against the dev Kafka, Redis and
 * PostgreSQL; each exposition must parse strictly as Prometheus text and
 * agree with the metrics table of README.md ("Metrics") both ways.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { waitFor, withKafka } from "../testing/kafka.ts";
import { withPg } from "../testing/pg.ts";
import { withRedis } from "../testing/redis.ts";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { type MetricFamily, parsePrometheusText } from "../testing/prometheus_text.ts";
import { startOtlpReceiver } from "../testing/otlp_receiver.ts";
import { fetchText, ROOT, type ServiceProcess, spawnService } from "../testing/services.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const SERVICES = ["producer", "bridge", "archive", "detector", "notifier", "web"] as const;
type Service = (typeof SERVICES)[number];
const TRACED: Service[] = ["producer", "bridge", "detector", "notifier"];

interface Documented {
  type: string;
  labels: string[];
}

/** The README metrics table: service → metric name → type and labels. */
async function documentedMetrics(): Promise<Map<Service, Map<string, Documented>>> {
  const text = await Deno.readTextFile(`${ROOT}README.md`);
  const out = new Map<Service, Map<string, Documented>>(SERVICES.map((s) => [s, new Map()]));
  for (const line of text.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    const name = /^`([a-z_<>]+)`$/.exec(cells[1] ?? "")?.[1];
    if (cells.length !== 5 || !name) continue;
    const [service, , type, labels] = cells as [string, string, string, string];
    const doc = { type, labels: [...labels.matchAll(/`(\w+)`/g)].map((m) => m[1]!) };
    const targets: Service[] = service === "all"
      ? [...SERVICES]
      : service === "traced"
      ? TRACED
      : [service as Service];
    for (const s of targets) {
      assert.ok(out.has(s), `unknown service "${service}" in the README table`);
      out.get(s)!.set(name.replace("<service>", s), doc);
    }
  }
  return out;
}

/** Families that must have samples after the run (the list), by service. */
const MUST_HAVE_SAMPLES: Record<Service, string[]> = {
  producer: ["vigil_producer_events_total", "vigil_producer_scenarios_total"],
  bridge: [
    "vigil_bridge_messages_total",
    "vigil_bridge_dead_letters_total",
    "vigil_bridge_consumer_lag",
    "vigil_bridge_stream_length",
    "vigil_bridge_trace_spans_exported_total",
  ],
  archive: ["vigil_archive_messages_total", "vigil_archive_lag"],
  detector: [
    "vigil_detector_events_total",
    "vigil_detector_rule_evaluations_total",
    "vigil_detector_anomalies_total",
    "vigil_detector_event_to_stored_seconds",
    "vigil_detector_event_to_published_seconds",
    "vigil_detector_stream_length",
    "vigil_detector_pending",
  ],
  notifier: [
    "vigil_notifier_alerts_total",
    "vigil_notifier_digests_total",
    "vigil_notifier_notifications_total",
    "vigil_notifier_event_to_notified_seconds",
    "vigil_notifier_pending_alerts",
  ],
  web: ["vigil_web_sse_clients", "vigil_web_http_requests_total"],
};

function value(f: MetricFamily | undefined, labels: Record<string, string> = {}): number {
  const s = f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return s?.value ?? NaN;
}

Deno.test(
  "every service's /metrics parses as Prometheus text and matches the documented table",
  opts,
  async () => {
    const documented = await documentedMetrics();
    await withKafka(
      { brokers: 1, partitions: 3, topics: EVENT_TYPES },
      (cluster) =>
        withPg(({ url }) =>
          withRedis(async ({ prefix, url: redisUrl }) => {
            const receiver = startOtlpReceiver({ keep: false });
            const scratch = `data/test-metrics-${crypto.randomUUID().slice(0, 8)}`;
            const env = {
              KAFKA_BROKERS: cluster.brokers.join(","),
              REDIS_URL: redisUrl,
              DATABASE_URL: url,
              VIGIL_PREFIX: prefix,
              OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
              LOG_LEVEL: "info",
            };
            const procs = new Map<Service, ServiceProcess>();
            const ports = new Map<Service, number>();
            let sse: ReadableStreamDefaultReader<Uint8Array> | undefined;
            const scrape = async (s: Service) => {
              const text = await fetchText(`http://127.0.0.1:${ports.get(s)}/metrics`);
              assert.ok(text !== undefined, `${s} serves /metrics`);
              try {
                return parsePrometheusText(text);
              } catch (error) {
                throw new Error(`${s}: /metrics is not valid Prometheus text: ${error}`);
              }
            };
            try {
              const start = async (
                s: Service,
                extra: Record<string, string>,
                args: string[] = [],
              ) => {
                const p = await spawnService(s, { ...env, ...extra }, args);
                procs.set(s, p);
                ports.set(s, await p.opsPort(60_000));
                return p;
              };
              // The detector and web migrate the database; start them one after the other.
              await start("detector", { DETECTOR_PORT: "0" });
              await start("web", { WEB_PORT: "0" });
              await start("notifier", {
                NOTIFIER_PORT: "0",
                OUTBOX_DIR: `${ROOT}${scratch}/outbox`,
                GROUP_WAIT: "200ms",
                GROUP_INTERVAL: "1s",
              });
              await start("archive", {
                ARCHIVE_PORT: "0",
                ARCHIVE_DIR: `./${scratch}/archive`,
                ARCHIVE_FLUSH_INTERVAL: "1s",
              });
              const bridge = await start("bridge", { BRIDGE_PORT: "0" });
              await bridge.waitForLine(
                (l) => l.msg === "joined consumer group",
                "group join",
                60_000,
              );

              // One live-view client.
              const live = await fetch(`http://127.0.0.1:${ports.get("web")}/api/live`);
              assert.equal(live.status, 200);
              sse = live.body!.getReader();
              await sse.read(); // the hello event

              // One malformed message, for the dead-letter series.
              const kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING });
              const raw = kafka.producer();
              await raw.connect();
              await raw.send({ topic: "logs", messages: [{ key: "bad", value: "{not json" }] });
              await raw.disconnect();

              await start("producer", { PRODUCER_PORT: "0" }, [
                "--rate=100",
                "--duration=120s",
                "--scenario=large_amount,latency_spike",
                "--scenario-every=0",
                "--seed=3",
              ]);

              // Short end-to-end run: until a digest went out and every service saw traffic.
              await waitFor(async () => {
                const n = await scrape("notifier");
                const a = await scrape("archive");
                const b = await scrape("bridge");
                return value(n.get("vigil_notifier_digests_total"), { status: "sent" }) >= 1 &&
                  (a.get("vigil_archive_messages_total")?.samples.length ?? 0) > 0 &&
                  (b.get("vigil_bridge_trace_spans_exported_total")?.samples[0]?.value ?? 0) > 0;
              }, {
                timeoutMs: 90_000,
                intervalMs: 500,
                what: "a digest sent and archived messages",
              });

              for (const s of SERVICES) {
                const families = await scrape(s);
                const docs = documented.get(s)!;
                for (const [name, doc] of docs) {
                  const f = families.get(name);
                  assert.ok(f, `${s} exports documented metric ${name}`);
                  assert.equal(f.type, doc.type, `${s}: ${name} is a ${doc.type}`);
                  for (const sample of f.samples) {
                    for (const label of Object.keys(sample.labels)) {
                      assert.ok(
                        doc.labels.includes(label) || (label === "le" && f.type === "histogram"),
                        `${s}: ${name} has undocumented label "${label}"`,
                      );
                    }
                  }
                  const series = new Set(
                    f.samples.map((x) =>
                      JSON.stringify(Object.entries(x.labels).filter(([k]) => k !== "le"))
                    ),
                  );
                  assert.ok(
                    series.size <= 100,
                    `${s}: ${name} has ${series.size} series (unbounded?)`,
                  );
                }
                for (const name of families.keys()) {
                  if (name.startsWith("vigil_")) {
                    assert.ok(
                      docs.has(name),
                      `${s} exports ${name}, missing from the README table`,
                    );
                  }
                }
                for (const name of MUST_HAVE_SAMPLES[s]) {
                  assert.ok(
                    (families.get(name)?.samples.length ?? 0) > 0,
                    `${s}: ${name} has samples after the run`,
                  );
                }
                assert.ok(value(families.get("process_resident_memory_bytes")) > 0);
              }
              const web = await scrape("web");
              assert.equal(value(web.get("vigil_web_sse_clients")), 1, "one live-view client");
              const bridgeMetrics = await scrape("bridge");
              assert.equal(
                value(bridgeMetrics.get("vigil_bridge_dead_letters_total"), {
                  topic: "logs",
                  reason_kind: "invalid_json",
                }),
                1,
              );
              const lag = bridgeMetrics.get("vigil_bridge_consumer_lag")!;
              assert.ok(lag.samples.every((x) => /^\d+$/.test(x.labels.partition!)));
              const detector = await scrape("detector");
              assert.ok(
                value(detector.get("vigil_detector_anomalies_total"), {
                      rule: "amount_high",
                      severity: "WARNING",
                    }) >= 1 ||
                  value(detector.get("vigil_detector_anomalies_total"), {
                      rule: "amount_high",
                      severity: "CRITICAL",
                    }) >= 1,
                "the injected large amount counted by rule and severity",
              );
            } finally {
              await sse?.cancel().catch(() => {});
              for (const p of [...procs.values()].reverse()) await p.stop();
              await receiver.close();
              await Deno.remove(`${ROOT}${scratch}`, { recursive: true }).catch(() => {});
            }
          })
        ),
    );
  },
);
