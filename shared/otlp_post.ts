/**
 * Sending one OTLP/HTTP protobuf export request: encode its parts and POST
 * them. The same code runs in the tracer's export worker
 * (`otlp_worker.ts`) and, when no worker can be started, on the tracer's own
 * thread.
 *
 * This module and the two it loads in the worker are read by the worker at
 * start: a service that exports spans off its main thread needs
 * `--allow-read` for the files in {@link OTLP_WORKER_FILES} (the `deno task`
 * of each service grants them).
 *
 * @module
 */
import { createExportEncoder, type ExportPart } from "./otlp_proto.ts";

/** One export request for the worker. */
export interface ExportJob {
  id: number;
  url: string;
  service: string;
  timeoutMs: number;
  parts: ExportPart[];
}

/** The worker's answer to an {@link ExportJob}: `error` is set when the export failed. */
export interface ExportDone {
  id: number;
  error?: string;
}

/** The source files the export worker reads (relative to the repository root). */
export const OTLP_WORKER_FILES = [
  "shared/otlp_worker.ts",
  "shared/otlp_post.ts",
  "shared/otlp_proto.ts",
] as const;

/** POST `body` to an OTLP/HTTP endpoint; throws unless it answers 2xx. */
export async function postOtlp(
  doFetch: typeof fetch,
  url: string,
  contentType: string,
  body: string | Uint8Array<ArrayBuffer>,
  timeoutMs: number,
): Promise<void> {
  const res = await doFetch(url, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

/**
 * A sender of protobuf export jobs (one buffer reused for every request:
 * call it for one job at a time).
 */
export function createProtobufSender(
  doFetch: typeof fetch = globalThis.fetch,
): (job: Omit<ExportJob, "id">) => Promise<void> {
  const encode = createExportEncoder();
  return (job) =>
    postOtlp(
      doFetch,
      job.url,
      "application/x-protobuf",
      encode(job.service, job.parts),
      job.timeoutMs,
    );
}
