/**
 * A process that exports three spans (a group of two and one span) to the
 * OTLP endpoint in its first argument, logging to stdout; last line: its
 * tracer's stats. Run by `shared/integration/otlp_worker_test.ts` under
 * different permissions.
 *
 * @module
 */
import { createLogger } from "../log.ts";
import { createTracer, newTraceparent } from "../tracing.ts";

const tracer = createTracer({
  service: "fixture",
  endpoint: Deno.args[0],
  log: createLogger({ service: "fixture" }),
});
tracer.startSpanGroup("group", [newTraceparent(), newTraceparent()]).end();
tracer.startSpan("single").end();
await tracer.close();
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(tracer.stats()) + "\n"));
