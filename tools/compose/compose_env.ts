/**
 * Reads one service's `environment:` mapping out of compose.yaml without a
 * YAML library: the file's layout (two-space indentation, block mappings,
 * `<<: *anchor` merges of top-level `x-…: &anchor` mappings) is all it needs.
 * Used by tests, where no YAML parser is installed (and `docker-compose`
 * may not be).
 *
 * @module
 */

interface Line {
  indent: number;
  text: string;
}

function lines(text: string): Line[] {
  return text.split("\n")
    .filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"))
    .map((l) => ({ indent: l.length - l.trimStart().length, text: l.trim() }));
}

function unquote(v: string): string {
  const s = v.trim();
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s.at(-1) === s[0]) return s.slice(1, -1);
  return s;
}

/** The `key: value` pairs of the block whose header is at `start`, one level deeper. */
function block(all: Line[], start: number): Line[] {
  const head = all[start]!;
  const out: Line[] = [];
  for (let i = start + 1; i < all.length && all[i]!.indent > head.indent; i++) out.push(all[i]!);
  return out;
}

function mapping(all: Line[], start: number, anchors: Map<string, Record<string, string>>) {
  const body = block(all, start);
  const depth = body[0]?.indent;
  const out: Record<string, string> = {};
  for (const l of body) {
    if (l.indent !== depth) continue;
    const m = /^([\w<.-]+):\s*(.*)$/.exec(l.text);
    if (!m) continue;
    if (m[1] === "<<") {
      const ref = /^\*([\w-]+)$/.exec(m[2]!.trim());
      const merged = ref ? anchors.get(ref[1]!) : undefined;
      if (!merged) throw new Error(`Cannot read compose.yaml: unknown merge ${m[2]}`);
      for (const [k, v] of Object.entries(merged)) if (!(k in out)) out[k] = v;
    } else {
      out[m[1]!] = unquote(m[2]!);
    }
  }
  return out;
}

/**
 * The environment of `service` (merged anchors resolved, values as written,
 * `${…}` not substituted).
 *
 * @throws {Error} when the service or its environment is missing
 */
export function composeEnvironment(text: string, service: string): Record<string, string> {
  const all = lines(text);
  const anchors = new Map<string, Record<string, string>>();
  all.forEach((l, i) => {
    const m = l.indent === 0 ? /^x-[\w-]+:\s*&([\w-]+)$/.exec(l.text) : null;
    if (m) anchors.set(m[1]!, mapping(all, i, anchors));
  });
  const services = all.findIndex((l) => l.indent === 0 && l.text === "services:");
  const body = block(all, services);
  const at = body.findIndex((l) => l.indent === 2 && l.text === `${service}:`);
  if (services < 0 || at < 0) throw new Error(`Cannot read compose.yaml: no service "${service}"`);
  const own = block(body, at);
  const env = own.findIndex((l) => l.indent === 4 && l.text === "environment:");
  if (env < 0) throw new Error(`Cannot read compose.yaml: "${service}" has no environment`);
  return mapping(own, env, anchors);
}

/** Compose's variable substitution: `${VAR}`, `${VAR:-default}`, `${VAR-default}`. */
export function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
    const v = vars[name];
    return v !== undefined && v !== "" ? v : fallback ?? "";
  });
}
