/**
 * Reading metrics in tests and benchmarks.
 *
 * @module
 */
import type client from "prom-client";

/**
 * The sum of a counter's or gauge's series whose labels include `labels`:
 * one series' value when `labels` names it, the total of every series
 * without `labels`, 0 when none matches.
 */
export async function sampleValue(
  metric: client.Counter | client.Gauge,
  labels: Record<string, string | number> = {},
): Promise<number> {
  let sum = 0;
  for (const v of (await metric.get()).values) {
    if (Object.entries(labels).every(([k, x]) => String(v.labels[k]) === String(x))) sum += v.value;
  }
  return sum;
}
