/**
 * The bridge's span of one consumed batch, after the OpenTelemetry messaging
 * conventions: a `process <topic>` consumer span linked to each event's
 * creation context (the cost is per batch, not per message).
 *
 * @module
 */
import type { EachBatchPayload } from "kafkajs";
import { SpanKind } from "@opentelemetry/api";
import { type Span, startBatchSpan, type Tracer } from "@vigil/shared/telemetry";
import type { BatchItem } from "./append.ts";

/** The span of a batch whose handling started at `started` (`performance.now()`). */
export function startBridgeSpan(
  tracer: Tracer,
  batch: EachBatchPayload["batch"],
  items: BatchItem[],
  started: number,
  groupId: string,
): Span {
  const contexts: string[] = [];
  for (const { classified: c } of items) if (c.kind === "event") contexts.push(c.traceparent);
  return startBatchSpan(tracer, `process ${batch.topic}`, contexts, {
    kind: SpanKind.CONSUMER,
    startTime: performance.timeOrigin + started,
    attributes: {
      "messaging.system": "kafka",
      "messaging.operation.type": "process",
      "messaging.destination.name": batch.topic,
      "messaging.destination.partition.id": String(batch.partition),
      "messaging.consumer.group.name": groupId,
      "messaging.batch.message_count": items.length,
    },
  });
}
