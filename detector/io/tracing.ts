/**
 * The detector's spans ({@link PipelineTracing}): a `detect <type>` span per
 * live event (child of its entry's traceparent) and an `anomaly <rule>` span
 * per new anomaly, child of its triggering event's detect span, whose
 * context the alert carries.
 *
 * @module
 */
import type { Span, Tracer } from "@vigil/shared/tracing";
import type { PipelineTracing } from "./pipeline.ts";

/** Spans on `tracer`; undefined when tracing is off. */
export function createDetectorTracing(tracer: Tracer): PipelineTracing | undefined {
  if (!tracer.enabled) return undefined;
  /** Detect spans of each stream's batch in hand, by their parent (the entry's traceparent). */
  const detectByParent = new Map<string, Map<string, Span>>();
  return {
    batch(type, entries) {
      const spans = new Map<string, Span>();
      for (const e of entries) {
        const span = tracer.startSpan(`detect ${type}`, {
          kind: "consumer",
          parent: e.traceparent,
          attributes: { "vigil.stream_id": e.id },
        });
        if (e.traceparent) spans.set(e.traceparent, span);
      }
      detectByParent.set(type, spans);
      return {
        end(error) {
          for (const s of spans.values()) (error ? s.fail(error) : s).end();
        },
      };
    },
    anomaly(row, parent, startMs) {
      const span = tracer.startSpan(`anomaly ${row.rule}`, {
        parent: (parent && detectByParent.get(row.type)?.get(parent)?.traceparent) ?? parent,
        startTimeMs: startMs,
        attributes: {
          "vigil.anomaly.id": row.id,
          "vigil.rule": row.rule,
          "vigil.severity": row.severity,
          "vigil.type": row.type,
        },
      });
      return { traceparent: span.traceparent, end: () => span.end() };
    },
  };
}
