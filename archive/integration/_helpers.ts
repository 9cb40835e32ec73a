/**
 * Helpers shared by the archive's integration tests: messages to produce and
 * what a local archive folder holds.
 *
 * @module
 */
import type { TopicMessage } from "@vigil/tools/testing/bridge";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { type Archive, type ArchiveDeps, type ArchiveOptions, createArchive } from "../archive.ts";
import { type ArchiveStore } from "../store.ts";
import { gunzip } from "@vigil/tools/testing/archive";

/** `inner` with its writes made by `put` (a store that fails or watches them). */
export function withPut(inner: ArchiveStore, put: ArchiveStore["put"]): ArchiveStore {
  return {
    location: inner.location,
    get: (key) => inner.get(key),
    check: () => inner.check(),
    put,
  };
}

/** An archive of the `logs` topic (a silent log and its own metrics unless given). */
export function logsArchive(
  deps: Pick<ArchiveDeps, "kafka" | "store"> & Partial<Pick<ArchiveDeps, "log" | "metrics">>,
  config: Omit<ArchiveOptions, "topics">,
): Archive {
  return createArchive({
    log: silentLogger(),
    metrics: new Registry(),
    ...deps,
    config: { topics: ["logs"], ...config },
  });
}

/** `n` `logs` messages of about 1 KB, numbered from `from`. */
export function bigLogs(from: number, n: number): TopicMessage[] {
  const pad = "x".repeat(900);
  return Array.from({ length: n }, (_, i) => ({
    topic: "logs",
    message: { key: "svc", value: `{"n":${from + i},"pad":"${pad}"}` },
  }));
}

/** The files under `dir` whose name ends with `suffix` (archived objects by default), sorted. */
export async function files(dir: string, suffix = ".ndjson.gz"): Promise<string[]> {
  const out: string[] = [];
  async function walk(path: string) {
    for await (const e of Deno.readDir(path)) {
      if (e.isDirectory) await walk(`${path}/${e.name}`);
      else if (e.name.endsWith(suffix)) out.push(`${path}/${e.name}`);
    }
  }
  await walk(dir).catch(() => {});
  return out.sort();
}

/** `{partition, offset}` of every line of every object under `dir`, in file order. */
async function archivedLines(dir: string): Promise<{ partition: number; offset: string }[]> {
  const out: { partition: number; offset: string }[] = [];
  for (const f of await files(dir)) {
    for (const line of (await gunzip(await Deno.readFile(f))).split("\n").filter(Boolean)) {
      const { partition, offset } = JSON.parse(line);
      out.push({ partition, offset });
    }
  }
  return out;
}

/** The Kafka offsets of every line of every object under `dir`, sorted (repeats kept). */
export async function archivedOffsets(dir: string): Promise<number[]> {
  return (await archivedLines(dir)).map((l) => Number(l.offset)).sort((a, b) => a - b);
}

/** `partition:offset` of every line of every object under `dir`, sorted (repeats kept). */
export async function archivedCoordinates(dir: string): Promise<string[]> {
  return (await archivedLines(dir)).map((l) => `${l.partition}:${l.offset}`)
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/**
 * Put a file where the objects of `logs` on 2026-01-01 go under the folder store at `dir`:
 * every object write fails (as on a full disk) while the store's check and reads pass. Its path:
 * removed, writes go through again.
 */
export async function blockObjectFolder(dir: string): Promise<string> {
  const blocker = `${dir}/raw/logs/dt=2026-01-01`;
  await Deno.mkdir(`${dir}/raw/logs`, { recursive: true });
  await Deno.writeTextFile(blocker, "in the way");
  return blocker;
}
