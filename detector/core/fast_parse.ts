/**
 * Fast path of stream entry validation. The bridge writes every entry in one
 * canonical form (the shared zod schemas' output: ISO timestamps with
 * milliseconds in UTC, trimmed names, upper-case levels and codes). Checking
 * that form by hand costs a fraction of a zod parse, which dominated the
 * detector's CPU time.
 *
 * The zod schemas stay the authority: these functions accept only values the
 * schemas accept *unchanged* (a strict subset: same output, since nothing is
 * transformed), and return null for anything else, which the caller then
 * parses with zod (`parseEntry` in evaluator.ts), so errors and unusual
 * inputs get exactly zod's verdict. `fast_parse_test.ts` checks the
 * agreement.
 *
 * @module
 */
export { canonicalTime, fastEvent } from "@vigil/shared/schemas/canonical";

/** The envelope fields the detector uses. */
export interface FastEnvelope {
  data: string;
  topic: string;
  partition: number;
  offset: string;
  ingestTs: number;
  traceparent: string | undefined;
}

const DIGITS = /^\d+$/;
const SMALL_DIGITS = /^\d{1,15}$/;

/** The envelope of a stream entry in the bridge's form, or null (use zod). */
export function fastEnvelope(fields: readonly string[]): FastEnvelope | null {
  let data: string | undefined;
  let topic: string | undefined;
  let partition: string | undefined;
  let offset: string | undefined;
  let ingest: string | undefined;
  let traceparent: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const v = fields[i + 1]!;
    switch (fields[i]) {
      case "data":
        data = v;
        break;
      case "topic":
        topic = v;
        break;
      case "partition":
        partition = v;
        break;
      case "offset":
        offset = v;
        break;
      case "ingest_ts":
        ingest = v;
        break;
      case "traceparent":
        traceparent = v;
        break;
    }
  }
  if (
    data === undefined || data.length < 2 || topic === undefined || topic.length < 1 ||
    partition === undefined || !SMALL_DIGITS.test(partition) || offset === undefined ||
    !DIGITS.test(offset) || ingest === undefined || !SMALL_DIGITS.test(ingest)
  ) return null;
  return {
    data,
    topic,
    partition: Number(partition),
    offset,
    ingestTs: Number(ingest),
    traceparent,
  };
}
