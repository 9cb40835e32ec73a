/**
 * The run loop's waits: a pause and a send that both end early when the run
 * stops (Ctrl-C, `--duration`), so a Kafka that stopped answering never holds
 * the producer past its end.
 *
 * @module
 */
import { ABORTED, sleep, untilAborted } from "@vigil/shared/lifecycle";

/** Wait `ms`, or less when `signal` aborts (never rejects). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => {});
}

/**
 * `send`, or until `stop` aborts while it waits (the sink's backpressure: a
 * batch Kafka does not acknowledge holds every later one). False when it
 * stopped waiting; what was handed to the sink stays pending, for the bounded
 * final flush to send or report (the sink logs its failures).
 */
export async function sendUntil(send: Promise<void>, stop: AbortSignal): Promise<boolean> {
  return (await untilAborted(send, stop)) !== ABORTED;
}
