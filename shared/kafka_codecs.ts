/**
 * The Kafka compression codecs kafkajs does not ship. kafkajs reads only
 * uncompressed and gzip batches and stops a consumer on any other
 * ("KafkaJSNotImplemented: LZ4 compression not implemented"): a topic
 * written by a producer set to `compression.type=lz4`, `zstd` or `snappy`
 * (the Java client and librdkafka offer all three) would stall the bridge and
 * the archive on its first such batch, restarting for ever.
 *
 * Pure JavaScript, no native module: snappy through `kafkajs-snappy` (kafkajs'
 * own plugin, raw and xerial-framed blocks), LZ4 frames through `lz4js`, zstd
 * through `fzstd`. Vigil's services only read these (the producer writes
 * uncompressed batches); zstd has no compressor here and says so.
 *
 * @module
 */
import { CompressionCodecs, CompressionTypes } from "kafkajs";
import SnappyCodec from "kafkajs-snappy";
import lz4 from "lz4js";
import { decompress as zstdDecompress } from "fzstd";
import { Buffer } from "node:buffer";

/** What kafkajs hands a codec to compress: the encoded batch. */
interface Encoder {
  buffer: Buffer;
}

const lz4Codec = () => ({
  compress: (encoder: Encoder) => Promise.resolve(Buffer.from(lz4.compress(encoder.buffer))),
  decompress: (buffer: Buffer) => Promise.resolve(Buffer.from(lz4.decompress(buffer))),
});

const zstdCodec = () => ({
  compress: () =>
    Promise.reject(new Error("zstd compression is not available: Vigil only reads zstd batches")),
  decompress: (buffer: Buffer) => {
    const out = zstdDecompress(buffer);
    return Promise.resolve(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  },
});

let registered = false;

/** Register the snappy, LZ4 and zstd codecs with kafkajs (once per process). */
export function registerKafkaCodecs(): void {
  if (registered) return;
  registered = true;
  const codecs = CompressionCodecs as Record<number, unknown>;
  codecs[CompressionTypes.Snappy] = SnappyCodec;
  codecs[CompressionTypes.LZ4] = lz4Codec;
  codecs[CompressionTypes.ZSTD] = zstdCodec;
}
