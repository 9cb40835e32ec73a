/**
 * Test helper: produce with librdkafka (Debian `librdkafka1`, through
 * `Deno.dlopen`), the C client most non-Java producers are built on, so
 * tests can read batches kafkajs does not write itself: snappy, LZ4 and
 * zstd compression.
 *
 * @module
 */
import { openRdkafka, RDKAFKA_CLIENT_SYMBOLS } from "../dev/kafka_mock.ts";

const SYMBOLS = {
  ...RDKAFKA_CLIENT_SYMBOLS,
  rd_kafka_topic_new: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  rd_kafka_produce: {
    parameters: ["pointer", "i32", "i32", "buffer", "usize", "buffer", "usize", "pointer"],
    result: "i32",
  },
  rd_kafka_poll: { parameters: ["pointer", "i32"], result: "i32" },
  rd_kafka_flush: { parameters: ["pointer", "i32"], result: "i32" },
  rd_kafka_outq_len: { parameters: ["pointer"], result: "i32" },
  rd_kafka_topic_destroy: { parameters: ["pointer"], result: "void" },
} as const;

/** librdkafka's `compression.codec` values. */
export type Codec = "none" | "gzip" | "snappy" | "lz4" | "zstd";

/** One message: its key and value. */
export interface RdMessage {
  key: string;
  value: string;
}

const RD_KAFKA_PRODUCER = 0;
const RD_KAFKA_PARTITION_UA = -1;
const RD_KAFKA_MSG_F_COPY = 0x2;

const cstr = (s: string) => new TextEncoder().encode(s + "\0");

/**
 * Produce `messages` to `topic` (partition by key hash, librdkafka's default)
 * with `codec`, in batches of up to `linger` ms, and wait until every one is
 * acknowledged by the cluster.
 *
 * @throws {Error} when librdkafka refuses a setting or a message is not
 * delivered within 30 s.
 */
export function produceWithLibrdkafka(
  bootstrap: string,
  topic: string,
  codec: Codec,
  messages: readonly RdMessage[],
): void {
  const lib = openRdkafka(SYMBOLS);
  const sym = lib.symbols;
  const err = new Uint8Array(512);
  const errText = () => new TextDecoder().decode(err.subarray(0, err.indexOf(0)));
  const conf = sym.rd_kafka_conf_new();
  const settings = {
    "bootstrap.servers": bootstrap,
    "compression.codec": codec,
    "linger.ms": "20",
    "log_level": "0",
  };
  for (const [key, value] of Object.entries(settings)) {
    if (sym.rd_kafka_conf_set(conf, cstr(key), cstr(value), err, BigInt(err.length)) !== 0) {
      lib.close();
      throw new Error(`librdkafka refused ${key}=${value}: ${errText()}`);
    }
  }
  const rk = sym.rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, BigInt(err.length));
  if (rk === null) {
    lib.close();
    throw new Error(`rd_kafka_new failed: ${errText()}`);
  }
  const rkt = sym.rd_kafka_topic_new(rk, cstr(topic), null);
  const enc = new TextEncoder();
  try {
    for (const m of messages) {
      const key = enc.encode(m.key);
      const value = enc.encode(m.value);
      while (
        sym.rd_kafka_produce(
          rkt,
          RD_KAFKA_PARTITION_UA,
          RD_KAFKA_MSG_F_COPY,
          value,
          BigInt(value.length),
          key,
          BigInt(key.length),
          null,
        ) !== 0
      ) sym.rd_kafka_poll(rk, 10); // queue full: let deliveries drain
    }
    sym.rd_kafka_flush(rk, 30_000);
    const left = sym.rd_kafka_outq_len(rk);
    if (left !== 0) throw new Error(`librdkafka: ${left} messages not delivered to ${topic}`);
  } finally {
    sym.rd_kafka_topic_destroy(rkt);
    sym.rd_kafka_destroy(rk);
    lib.close();
  }
}
