/**
 * A Kafka-protocol development cluster: librdkafka's mock cluster, loaded
 * through `Deno.dlopen` (Debian package `librdkafka1`).
 *
 * It speaks the real Kafka wire protocol on real TCP sockets (consumer
 * groups, several brokers, replicas), so kafkajs works against it unchanged.
 *
 * Limits (librdkafka 2.0.2, not settable): each partition keeps at most
 * {@link MOCK_PARTITION_RETAINED_BYTES} of record batches and at most
 * 100,000 batches, dropping the oldest produce batches whole (like
 * retention: the log start offset moves); a group sync completes on the
 * leader's assignments alone, so a follower whose SyncGroup comes later gets
 * INVALID_REQUEST; a broker taken down ({@link MockKafkaCluster.brokerDown}) while clients are busy
 * with it (a group rebalancing, requests failing) may leave some of their connections open, and
 * serve them no more once it is up again: a kafkajs client on one (it does not replace a connection
 * whose requests time out) stays stuck until restarted (docs/operations.md, failure modes).
 * It lives inside the process that creates it. Services never import this
 * module: it is for `deno task kafka`, tests and benchmarks only.
 *
 * @module
 */
import { z } from "zod";
import { intVar, KAFKA_BROKERS_FILE } from "@vigil/shared/config";

/** Environment of `deno task kafka` (documented in docs/configuration.md). */
export const devKafkaEnvSchema = z.object({
  /** Brokers of the dev cluster. */
  KAFKA_DEV_BROKERS: intVar(1, 9).default(3),
  /** Partitions per topic. */
  KAFKA_DEV_PARTITIONS: intVar(1, 256).default(24),
  /** Where to write the bootstrap servers for services started on their own; `none` (null): nowhere. */
  KAFKA_DEV_BROKERS_FILE: z.string().default(KAFKA_BROKERS_FILE)
    .transform((path) => path === "none" ? null : path),
});

const LIBRARY_CANDIDATES = [
  "librdkafka.so.1",
  "/usr/lib/x86_64-linux-gnu/librdkafka.so.1",
  "/usr/lib/aarch64-linux-gnu/librdkafka.so.1",
];

/** librdkafka's client functions: a configuration, a client, its end. */
export const RDKAFKA_CLIENT_SYMBOLS = {
  rd_kafka_conf_new: { parameters: [], result: "pointer" },
  rd_kafka_conf_set: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
  },
  rd_kafka_new: { parameters: ["i32", "pointer", "buffer", "usize"], result: "pointer" },
  rd_kafka_destroy: { parameters: ["pointer"], result: "void" },
} as const;

const SYMBOLS = {
  ...RDKAFKA_CLIENT_SYMBOLS,
  rd_kafka_mock_cluster_new: { parameters: ["pointer", "i32"], result: "pointer" },
  rd_kafka_mock_cluster_destroy: { parameters: ["pointer"], result: "void" },
  rd_kafka_mock_cluster_bootstraps: { parameters: ["pointer"], result: "pointer" },
  rd_kafka_mock_topic_create: { parameters: ["pointer", "buffer", "i32", "i32"], result: "i32" },
  rd_kafka_mock_topic_set_error: { parameters: ["pointer", "buffer", "i32"], result: "void" },
  rd_kafka_mock_partition_set_leader: {
    parameters: ["pointer", "buffer", "i32", "i32"],
    result: "i32",
  },
  rd_kafka_mock_broker_set_down: { parameters: ["pointer", "i32"], result: "i32" },
  rd_kafka_mock_broker_set_up: { parameters: ["pointer", "i32"], result: "i32" },
  rd_kafka_mock_broker_set_rtt: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  rd_kafka_mock_coordinator_set: {
    parameters: ["pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  rd_kafka_mock_push_request_errors_array: {
    parameters: ["pointer", "i16", "usize", "buffer"],
    result: "void",
  },
  rd_kafka_mock_clear_request_errors: { parameters: ["pointer", "i16"], result: "void" },
  rd_kafka_err2str: { parameters: ["i32"], result: "pointer" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Bytes of record batches the mock keeps per partition (hard-coded in librdkafka). */
export const MOCK_PARTITION_RETAINED_BYTES = 5 * 1024 * 1024;

/** Kafka protocol API keys, for {@link MockKafkaCluster.pushRequestErrors}. */
export const KafkaApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  SyncGroup: 14,
} as const;

/** Kafka error codes commonly injected in tests. */
export const KafkaErrorCode = {
  NotLeaderForPartition: 6,
  RequestTimedOut: 7,
  NotCoordinator: 16,
  NotEnoughReplicas: 19,
  UnknownTopicOrPartition: 3,
  CoordinatorNotAvailable: 15,
} as const;

/** Options for {@link startMockKafka}. */
export interface MockKafkaOptions {
  /** Number of brokers. @default {3} */
  brokers?: number;
  /** Topics to create up front. @default {["logs","metrics","transactions"]} */
  topics?: readonly string[];
  /** Partitions per topic. @default {6} */
  partitions?: number;
  /** Replication factor (at most `brokers`). @default {min(3, brokers)} */
  replicationFactor?: number;
}

/** A running mock cluster with its fault-injection controls. */
export interface MockKafkaCluster {
  /** `host:port,host:port,…` for kafkajs `brokers`. */
  readonly bootstrap: string;
  /** The same as an array. */
  readonly brokers: string[];
  /** Broker ids are 1..n. */
  readonly brokerIds: number[];
  createTopic(name: string, partitions?: number, replicationFactor?: number): void;
  /** Take a broker down: it refuses connections until {@link brokerUp}. */
  brokerDown(id: number): void;
  brokerUp(id: number): void;
  /** Add round-trip latency to a broker's responses. */
  setRtt(id: number, rttMs: number): void;
  /** Move a partition's leadership to another broker. */
  setLeader(topic: string, partition: number, brokerId: number): void;
  /** Make `FindCoordinator` answer `brokerId` for a group (`keyType` "group"). */
  setCoordinator(keyType: "group" | "transaction", key: string, brokerId: number): void;
  /** The next `errors.length` requests of `apiKey` fail with those error codes. */
  pushRequestErrors(apiKey: number, errors: readonly number[]): void;
  clearRequestErrors(apiKey: number): void;
  /** Every request on the topic answers `errorCode` (0 clears it). */
  setTopicError(topic: string, errorCode: number): void;
  /** Destroy the cluster. Idempotent. */
  close(): void;
}

function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** Load librdkafka with `symbols`. */
export function openRdkafka<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> {
  let lastError: unknown;
  for (const path of LIBRARY_CANDIDATES) {
    try {
      return Deno.dlopen(path, symbols);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(
    "Cannot start the dev Kafka: librdkafka.so.1 not found (install the Debian package librdkafka1)",
    { cause: lastError },
  );
}

/**
 * Start a mock Kafka cluster in this process.
 *
 * @throws {Error} when librdkafka is missing or the cluster cannot start.
 */
export function startMockKafka(options: MockKafkaOptions = {}): MockKafkaCluster {
  const brokerCount = options.brokers ?? 3;
  if (!Number.isInteger(brokerCount) || brokerCount < 1) {
    throw new RangeError(`Cannot start the dev Kafka: brokers must be >= 1, got ${brokerCount}`);
  }
  const partitionsDefault = options.partitions ?? 6;
  const replicationDefault = Math.min(options.replicationFactor ?? 3, brokerCount);
  const lib: Lib = openRdkafka(SYMBOLS);
  const sym = lib.symbols;
  const conf = sym.rd_kafka_conf_new();
  const errbuf = new Uint8Array(512);
  // Keep the hosting client quiet: it only owns the mock cluster.
  const setConf = (key: string, value: string) => {
    sym.rd_kafka_conf_set(conf, cstr(key), cstr(value), errbuf, BigInt(errbuf.length));
  };
  setConf("log_level", "0");
  const rk = sym.rd_kafka_new(0, conf, errbuf, BigInt(errbuf.length));
  if (rk === null) {
    const msg = new TextDecoder().decode(errbuf.subarray(0, errbuf.indexOf(0)));
    lib.close();
    throw new Error(`Cannot start the dev Kafka: rd_kafka_new failed: ${msg}`);
  }
  const mc = sym.rd_kafka_mock_cluster_new(rk, brokerCount);
  if (mc === null) {
    sym.rd_kafka_destroy(rk);
    lib.close();
    throw new Error("Cannot start the dev Kafka: rd_kafka_mock_cluster_new failed");
  }
  const bootPtr = sym.rd_kafka_mock_cluster_bootstraps(mc);
  const bootstrap = bootPtr === null ? "" : new Deno.UnsafePointerView(bootPtr).getCString();
  const errText = (code: number) => {
    const p = sym.rd_kafka_err2str(code);
    return p === null ? String(code) : new Deno.UnsafePointerView(p).getCString();
  };
  const check = (what: string, code: number) => {
    if (code !== 0) throw new Error(`Cannot ${what}: ${errText(code)} (${code})`);
  };
  let closed = false;
  const cluster: MockKafkaCluster = {
    bootstrap,
    brokers: bootstrap.split(",").filter(Boolean),
    brokerIds: Array.from({ length: brokerCount }, (_, i) => i + 1),
    createTopic(name, partitions = partitionsDefault, rf = replicationDefault) {
      check(
        `create topic ${name}`,
        sym.rd_kafka_mock_topic_create(mc, cstr(name), partitions, Math.min(rf, brokerCount)),
      );
    },
    brokerDown(id) {
      check(`set broker ${id} down`, sym.rd_kafka_mock_broker_set_down(mc, id));
    },
    brokerUp(id) {
      check(`set broker ${id} up`, sym.rd_kafka_mock_broker_set_up(mc, id));
    },
    setRtt(id, rttMs) {
      check(`set broker ${id} rtt`, sym.rd_kafka_mock_broker_set_rtt(mc, id, rttMs));
    },
    setLeader(topic, partition, brokerId) {
      check(
        `move ${topic}/${partition} to broker ${brokerId}`,
        sym.rd_kafka_mock_partition_set_leader(mc, cstr(topic), partition, brokerId),
      );
    },
    setCoordinator(keyType, key, brokerId) {
      check(
        `set coordinator for ${key}`,
        sym.rd_kafka_mock_coordinator_set(mc, cstr(keyType), cstr(key), brokerId),
      );
    },
    pushRequestErrors(apiKey, errors) {
      const arr = new Int32Array(errors);
      sym.rd_kafka_mock_push_request_errors_array(
        mc,
        apiKey,
        BigInt(errors.length),
        new Uint8Array(arr.buffer),
      );
    },
    clearRequestErrors(apiKey) {
      sym.rd_kafka_mock_clear_request_errors(mc, apiKey);
    },
    setTopicError(topic, errorCode) {
      sym.rd_kafka_mock_topic_set_error(mc, cstr(topic), errorCode);
    },
    close() {
      if (closed) return;
      closed = true;
      sym.rd_kafka_mock_cluster_destroy(mc);
      sym.rd_kafka_destroy(rk);
      lib.close();
    },
  };
  for (const topic of options.topics ?? ["logs", "metrics", "transactions"]) {
    cluster.createTopic(topic);
  }
  return cluster;
}
