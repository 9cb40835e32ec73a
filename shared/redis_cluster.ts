/**
 * What differs on a Redis Cluster, in one place: a pipeline may only touch
 * one slot (ioredis refuses keys of different masters, and a slot moving
 * between two commands would split it), and SCAN sees only the node it is
 * sent to. On a single server these helpers do what a plain pipeline or
 * SCAN does.
 *
 * Scripts are not here: each script's keys share a hash tag
 * (`shared/keys.ts`), and the bridge's appender and the detector's publisher
 * group their calls per slot themselves (`perSlot`, on by default on a
 * cluster).
 *
 * @module
 */
import { withTimeout } from "./lifecycle.ts";

/** Is `redis` a cluster client? */
export function isCluster(redis: { readonly isCluster?: boolean }): boolean {
  return redis.isCluster === true;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

/**
 * The cluster slot of `key` (CRC16/XMODEM of the key, or of its hash tag:
 * the part between the first `{` and the next `}` when not empty, mod 16384).
 */
export function keySlot(key: string): number {
  let bytes = new TextEncoder().encode(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!) & 0xffff;
  return crc % 16384;
}

/** Just what {@link pipelineBySlot} needs: pipelines, and whether it is a cluster. */
export interface PipelineClient<P> {
  pipeline(): P;
  readonly isCluster?: boolean;
}

/** One command of {@link pipelineBySlot}: the key it touches and how to add it to a pipeline. */
export interface KeyedCommand<P> {
  key: string;
  add(pipeline: P): void;
}

/**
 * Run commands on different keys: one pipeline on a single server, one per
 * slot (concurrently) on a cluster. Replies come back in the order of
 * `commands`, each `[error, reply]` as ioredis gives them.
 */
export async function pipelineBySlot<
  P extends { exec(): Promise<[Error | null, unknown][] | null> },
>(
  redis: PipelineClient<P>,
  commands: readonly KeyedCommand<P>[],
): Promise<[Error | null, unknown][]> {
  if (commands.length === 0) return [];
  const cluster = isCluster(redis);
  const groups = Map.groupBy(commands.keys(), (i) => cluster ? keySlot(commands[i]!.key) : 0);
  const out: [Error | null, unknown][] = new Array(commands.length);
  await Promise.all([...groups.values()].map(async (indexes) => {
    const p = redis.pipeline();
    for (const i of indexes) commands[i]!.add(p);
    const replies = (await p.exec()) ?? [];
    indexes.forEach((i, j) => (out[i] = replies[j] ?? [new Error("no reply"), null]));
  }));
  return out;
}

/** Just what {@link clusterProblems} needs of a master (an ioredis node). */
export interface HealthNode {
  readonly status?: string;
  readonly options: { host?: string; port?: number };
  call(command: "CLUSTER", sub: "INFO"): Promise<unknown>;
}

/** What a CLUSTER INFO reply says is wrong: `cluster_state` not ok, slots failing or suspected. */
function infoProblem(info: string): string | null {
  const field = (name: string) => new RegExp(`^${name}:(\\w+)`, "m").exec(info)?.[1];
  const wrong = [
    field("cluster_state") === "ok" ? "" : `cluster_state:${field("cluster_state") ?? "?"}`,
    ...["cluster_slots_fail", "cluster_slots_pfail"].map((name) =>
      Number(field(name) ?? 0) > 0 ? `${name}:${field(name)}` : ""
    ),
  ].filter(Boolean);
  return wrong.length ? wrong.join(", ") : null;
}

/**
 * What is wrong with a cluster, one `host:port: …` per master that does not
 * answer CLUSTER INFO within `timeoutMs`, reports a `cluster_state` other
 * than `ok` (a master down and not replaced: every write is refused), or
 * sees slots failing or suspected (`cluster_slots_pfail`: a master stopped
 * answering and its replica has not taken over yet); empty when every master
 * is fine. A health check's PING reaches one node of ioredis' choosing and
 * answers PONG meanwhile.
 */
export async function clusterProblems(
  masters: readonly HealthNode[],
  timeoutMs = 1500,
): Promise<string[]> {
  const problems = await Promise.all(masters.map(async (node) => {
    const state = node.status === "ready" || node.status === "wait" ? "" : ` (${node.status})`;
    const problem = await withTimeout(node.call("CLUSTER", "INFO"), timeoutMs, "ask CLUSTER INFO")
      .then(
        (info) => infoProblem(String(info)),
        (error: Error) =>
          error.name === "TimeoutError"
            ? `no answer within ${timeoutMs} ms${state}`
            : error.message,
      );
    return problem === null ? null : `${node.options.host}:${node.options.port}: ${problem}`;
  }));
  return problems.filter((p): p is string => p !== null);
}
