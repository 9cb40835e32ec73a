/**
 * The tracer's export worker: encodes and POSTs the export requests the
 * tracer hands it, one at a time, off the traced thread (a span per event on
 * the bridge would otherwise spend a third of its tracing cost here). Started
 * by `shared/tracing.ts`; answers each {@link ExportJob} with an
 * {@link ExportDone}.
 *
 * @module
 */
import { createProtobufSender, type ExportDone, type ExportJob } from "./otlp_post.ts";

const send = createProtobufSender();
const port = self as unknown as {
  onmessage: ((e: MessageEvent<ExportJob>) => void) | null;
  postMessage(message: ExportDone): void;
};

// Jobs are chained: the sender reuses one buffer, and the tracer sends one at a time anyway.
let chain: Promise<void> = Promise.resolve();
port.onmessage = (e) => {
  const job = e.data;
  chain = chain.then(async () => {
    try {
      await send(job);
      port.postMessage({ id: job.id });
    } catch (error) {
      port.postMessage({
        id: job.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });
};
