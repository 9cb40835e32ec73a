/**
 * The generator's content: log message templates per level, the scenario
 * texts, and transaction fields. Normal templates never contain "fail" (the
 * `failed_message` rule); the tests check every template.
 *
 * @module
 */
import type { TransactionStatus } from "@vigil/shared/schemas/event";
import type { Prng } from "./prng.ts";

/** A log message template: a text, drawn with the generator's PRNG. */
export type LogTemplate = (r: Prng) => string;

export const INFO_MESSAGES: LogTemplate[] = [
  (r) => `GET /api/v1/orders/${r.int(1000, 99999)} 200 in ${r.int(3, 180)} ms`,
  (r) => `POST /api/v1/checkout 201 in ${r.int(20, 350)} ms`,
  () => `session started`,
  (r) => `order ord-${r.hex(4)} created`,
  (r) => `cache refreshed (${r.int(100, 5000)} entries)`,
  (r) => `payment authorised for order ord-${r.hex(4)}`,
  (r) => `email queued to template welcome_v${r.int(1, 4)}`,
  () => `profile updated`,
];
export const DEBUG_MESSAGES: LogTemplate[] = [
  (r) => `cache hit for key product:${r.int(1, 20000)}`,
  (r) => `query took ${r.int(1, 40)} ms`,
  (r) => `feature flag new_checkout=${r.next() < 0.5 ? "on" : "off"}`,
];
export const WARNING_MESSAGES: LogTemplate[] = [
  (r) => `slow query: ${r.int(500, 1500)} ms on orders_by_user`,
  (r) => `retrying upstream call (attempt ${r.int(2, 3)})`,
  (r) => `connection pool at ${r.int(75, 90)}% capacity`,
  () => `deprecated API version v1 used`,
  (r) => `rate limit close for client c-${r.hex(3)}`,
];
/** Normal ERROR texts: never contain "fail" (the failed_message rule). */
export const ERROR_MESSAGES: LogTemplate[] = [
  (r) => `upstream timeout after ${r.int(2, 10) * 1000} ms`,
  () => `database connection reset by peer`,
  (r) => `unexpected response ${r.pick([500, 502, 503, 504])} from upstream`,
  () => `unhandled exception in request handler`,
  () => `circuit breaker open for inventory client`,
];
/** error_burst texts: ERRORs that are not "failed" messages. */
export const BURST_MESSAGES: LogTemplate[] = [
  () => `database connection refused`,
  () => `upstream timeout after 5000 ms`,
  () => `connection pool exhausted`,
  () => `out of memory while serialising response`,
];
/** failed_messages texts: each contains "failed" in some case. */
export const FAILED_MESSAGES: LogTemplate[] = [
  (r) => `payment processing failed for order ord-${r.hex(4)}`,
  () => `Login FAILED: invalid credentials`,
  () => `Job Failed after 3 retries`,
];

const MERCHANTS = ["Acme Books", "Blue Cafe", "CloudHost", "FreshMart", "GoRide", "PixelStore"];
const COUNTRIES = ["US", "GB", "DE", "FR", "NL", "ES", "IE"];
const CURRENCIES = ["USD", "EUR", "GBP"];

/** `x` rounded to `digits` decimals. */
export const round = (x: number, digits: number): number =>
  Math.round(x * 10 ** digits) / 10 ** digits;
/** `x` limited to [lo, hi]. */
export const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** A normal amount: log-normal with median 45, within 1–2,000. */
export function normalAmount(rng: Prng): number {
  return round(clamp(Math.exp(Math.log(45) + rng.gaussian()), 1, 2000), 2);
}

/** A transaction event of `user` at `nowMs` (amount drawn unless given). */
export function transactionEvent(
  rng: Prng,
  nowMs: number,
  user: string,
  status: TransactionStatus,
  value: number = normalAmount(rng),
): Record<string, unknown> {
  return {
    timestamp: new Date(nowMs).toISOString(),
    transaction_id: `tx-${rng.hex(8)}`,
    user_id: user,
    amount: value,
    currency: rng.pick(CURRENCIES),
    status,
    merchant: rng.pick(MERCHANTS),
    country: rng.pick(COUNTRIES),
  };
}
