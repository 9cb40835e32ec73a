/**
 * The detector's spans ({@link PipelineTracing}) on OpenTelemetry: a
 * `detect <type>` consumer span per batch, linked to its live entries'
 * traceparents (their messages' creation contexts, the messaging
 * conventions for batches), and an `anomaly <rule>` span per new anomaly,
 * child of its triggering entry's traceparent, whose context the alert
 * carries.
 *
 * @module
 */
import { SpanKind } from "@opentelemetry/api";
import {
  contextOf,
  failSpan,
  startBatchSpan,
  traceparentOf,
  type Tracer,
} from "@vigil/shared/telemetry";
import type { PipelineTracing } from "./pipeline.ts";

/** Spans on `tracer` (give it only when tracing is on: `serviceTracer()`). */
export function createDetectorTracing(tracer: Tracer): PipelineTracing {
  return {
    batch(type, entries) {
      const span = startBatchSpan(tracer, `detect ${type}`, entries.map((e) => e.traceparent), {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.operation.type": "process",
          "messaging.batch.message_count": entries.length,
        },
      });
      return {
        end(error) {
          if (error !== undefined) failSpan(span, error);
          span.end();
        },
      };
    },
    anomaly(row, parent, startMs) {
      const span = tracer.startSpan(`anomaly ${row.rule}`, {
        startTime: startMs,
        attributes: {
          "vigil.anomaly.id": row.id,
          "vigil.rule": row.rule,
          "vigil.severity": row.severity,
          "vigil.type": row.type,
        },
      }, contextOf(parent));
      return { traceparent: traceparentOf(span) ?? parent, end: () => span.end() };
    },
  };
}
