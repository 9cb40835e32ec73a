/**
 * The environment of a detector process started by a benchmark: its own
 * database, key prefix and port, quiet logs.
 *
 * @module
 */
import { TEST_REDIS_URL } from "../testing/redis.ts";

/** Environment of a benchmark's detector (`member` names it among detectors). */
export function benchDetectorEnv(
  o: { url: string; prefix: string; port: number; member: string },
): Record<string, string> {
  return {
    NO_COLOR: "1",
    DATABASE_URL: o.url,
    REDIS_URL: TEST_REDIS_URL,
    VIGIL_PREFIX: o.prefix,
    DETECTOR_PORT: String(o.port),
    DETECTOR_MEMBER: o.member,
    LOG_LEVEL: "warn",
  };
}
