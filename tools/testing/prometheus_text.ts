/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4),
 * for tests: what `promtool check metrics` would reject, it throws on, with
 * the line number.
 *
 * Checked: metric and label names, label value escapes (`\\`, `\"`, `\n`
 * only), float values (`NaN`, `+Inf`, `-Inf`), optional integer timestamps,
 * one `# TYPE` per family placed before its samples, samples of a family not
 * interleaved with another's, no duplicate series, counters ≥ 0, histogram
 * families complete (`_bucket` series with `le`, cumulative counts, a `+Inf`
 * bucket equal to `_count`, and `_sum`), and a final newline.
 *
 * @module
 */

/** Metric types of the format. */
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

/** One sample line. */
export interface Sample {
  /** Series name as written (`x_bucket`, `x_sum`, …). */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

/** One metric family. */
export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: number): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new SyntaxError(`line ${line}: invalid sample value "${text}"`);
  }
  return Number(text);
}

/** Parse `{a="x",b="y"}` starting at `s[i] === "{"`; returns labels and the index after `}`. */
function parseLabels(s: string, i: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++; // {
  for (;;) {
    if (s[i] === "}") return [labels, i + 1];
    const eq = s.indexOf("=", i);
    if (eq < 0) throw new SyntaxError(`line ${line}: label without "="`);
    const name = s.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new SyntaxError(`line ${line}: invalid label name "${name}"`);
    if (name in labels) throw new SyntaxError(`line ${line}: duplicate label "${name}"`);
    if (s[eq + 1] !== '"') throw new SyntaxError(`line ${line}: label value not quoted`);
    let v = "";
    let j = eq + 2;
    for (;; j++) {
      const c = s[j];
      if (c === undefined) throw new SyntaxError(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === "\n") throw new SyntaxError(`line ${line}: raw newline in label value`);
      if (c === "\\") {
        const e = s[++j];
        if (e === "\\") v += "\\";
        else if (e === '"') v += '"';
        else if (e === "n") v += "\n";
        else throw new SyntaxError(`line ${line}: invalid escape "\\${e}" in label value`);
      } else v += c;
    }
    labels[name] = v;
    i = j + 1;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") throw new SyntaxError(`line ${line}: expected "," or "}" after label`);
  }
}

/** The family a series name belongs to, given the declared types. */
function familyOf(name: string, types: Map<string, MetricType>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base;
    }
  }
  return name;
}

/**
 * Parse an exposition. @throws {SyntaxError} naming the line of the first problem
 * @returns families by name, in order of appearance
 */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith("\n")) {
    throw new SyntaxError("exposition does not end with a newline");
  }
  const families = new Map<string, MetricFamily>();
  const types = new Map<string, MetricType>();
  const helps = new Map<string, string>();
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();

  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: types.get(name) ?? "untyped", help: helps.get(name) ?? "", samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const enter = (name: string, line: number) => {
    if (current === name) return;
    if (closed.has(name)) {
      throw new SyntaxError(`line ${line}: samples of "${name}" are not grouped together`);
    }
    if (current !== undefined) closed.add(current);
    current = name;
  };

  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ""] = m;
      if (!METRIC_NAME.test(name!)) {
        throw new SyntaxError(`line ${line}: invalid metric name "${name}"`);
      }
      if (kind === "TYPE") {
        if (types.has(name!)) throw new SyntaxError(`line ${line}: second TYPE for "${name}"`);
        if (families.get(name!)?.samples.length) {
          throw new SyntaxError(`line ${line}: TYPE of "${name}" after its samples`);
        }
        if (!TYPES.has(rest as MetricType)) {
          throw new SyntaxError(`line ${line}: unknown type "${rest}"`);
        }
        types.set(name!, rest as MetricType);
        family(name!).type = rest as MetricType;
      } else {
        if (helps.has(name!)) throw new SyntaxError(`line ${line}: second HELP for "${name}"`);
        helps.set(name!, rest);
        family(name!).help = rest;
      }
      enter(name!, line);
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) throw new SyntaxError(`line ${line}: invalid metric name in "${raw}"`);
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (raw[i] === "{") [labels, i] = parseLabels(raw, i, line);
    if (raw[i] !== " ") throw new SyntaxError(`line ${line}: expected a space before the value`);
    const parts = raw.slice(i + 1).split(" ");
    if (parts.length > 2 || parts[0] === "") {
      throw new SyntaxError(`line ${line}: expected "value [timestamp]"`);
    }
    const value = parseValue(parts[0]!, line);
    let timestamp: number | undefined;
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) throw new SyntaxError(`line ${line}: invalid timestamp`);
      timestamp = Number(parts[1]);
    }
    const fam = familyOf(name, types);
    enter(fam, line);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seenSeries.has(key)) throw new SyntaxError(`line ${line}: duplicate series ${name}`);
    seenSeries.add(key);
    const f = family(fam);
    if (f.type === "counter" && !(value >= 0)) {
      throw new SyntaxError(`line ${line}: counter "${name}" is negative or NaN`);
    }
    if (f.type === "histogram" && name === fam) {
      throw new SyntaxError(`line ${line}: histogram sample without _bucket/_sum/_count`);
    }
    f.samples.push({ name, labels, value, ...(timestamp !== undefined ? { timestamp } : {}) });
  });

  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

function checkHistogram(f: MetricFamily): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let e = series.get(key);
    if (!e) series.set(key, e = { buckets: [] });
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new SyntaxError(`histogram "${f.name}": bucket without le`);
      e.buckets.push([le === "+Inf" ? Infinity : parseValue(le, 0), s.value]);
    } else if (s.name === `${f.name}_sum`) e.sum = s.value;
    else e.count = s.value;
  }
  for (const [key, e] of series) {
    const where = `histogram "${f.name}" ${key}`;
    if (e.sum === undefined || e.count === undefined) {
      throw new SyntaxError(`${where}: missing _sum or _count`);
    }
    const sorted = [...e.buckets].sort((a, b) => a[0] - b[0]);
    if (sorted.at(-1)?.[0] !== Infinity) throw new SyntaxError(`${where}: no +Inf bucket`);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) {
        throw new SyntaxError(`${where}: bucket counts are not cumulative`);
      }
    }
    if (sorted.at(-1)![1] !== e.count) {
      throw new SyntaxError(`${where}: +Inf bucket differs from _count`);
    }
  }
}
