/**
 * A logger for tests and benchmarks that writes nothing.
 *
 * @module
 */
import { createLogger, type Logger } from "@vigil/shared/log";

/** A logger that drops everything. */
export function silentLogger(): Logger {
  return createLogger({ service: "test", level: "error", write: () => {} });
}
