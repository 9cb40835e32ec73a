/**
 * `deno bench tools/bench/generator_bench.ts`: generator and sink cost per event, without
 * Kafka (each iteration = 1,000 events).
 *
 * @module
 */
import { silentLogger } from "../testing/log.ts";
import { createGenerator } from "@vigil/producer/generator";
import { createKafkaSink } from "@vigil/producer/kafka_sink";

const gen = createGenerator({ seed: 1 });
let t = Date.UTC(2025, 0, 1);

Deno.bench("generator.normal() 1,000 events", () => {
  gen.normal(t += 5000, 1000);
});

Deno.bench("generator.scenario() error_burst + failed_tx_burst + cpu_sustained", () => {
  for (const name of ["error_burst", "failed_tx_burst", "cpu_sustained"] as const) {
    gen.scenario(name, t += 1000);
  }
});

const sink = createKafkaSink({
  producer: { sendBatch: () => Promise.resolve([]) },
  log: silentLogger(),
});
Deno.bench("generator + sink (no-op producer) 1,000 events", async () => {
  await sink.send(gen.normal(t += 5000, 1000));
  await sink.flush();
});
