/**
 * The run loop's waits: a pause and a send that both end early when the run
 * stops (Ctrl-C, `--duration`), so a Kafka that stopped answering never holds
 * the producer past its end.
 *
 * @module
 */
import { sleep } from "@vigil/shared/lifecycle";

/** Wait `ms`, or less when `signal` aborts (never rejects). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => {});
}

/**
 * `send`, or until `stop` aborts while it waits (the sink's backpressure: a
 * batch Kafka does not acknowledge holds every later one). False when it
 * stopped waiting; what was handed to the sink stays pending, for the bounded
 * final flush to send or report.
 */
export async function sendUntil(send: Promise<void>, stop: AbortSignal): Promise<boolean> {
  send.catch(() => {}); // the sink logs its failures; one left behind must not go unhandled
  const stopped = Promise.withResolvers<boolean>();
  const onStop = () => stopped.resolve(false);
  if (stop.aborted) onStop();
  stop.addEventListener("abort", onStop, { once: true });
  try {
    return await Promise.race([send.then(() => true), stopped.promise]);
  } finally {
    stop.removeEventListener("abort", onStop);
  }
}
