/**
 * Bench helpers: what a process under test uses, read from Linux `/proc`
 * and from its `/metrics`.
 *
 * @module
 */
import { fetchText } from "../testing/services.ts";

/** Resident and peak resident memory of a process in MB (VmRSS, VmHWM of `/proc/<pid>/status`). */
export function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb("VmRSS") / 1024), peakMb: Math.round(kb("VmHWM") / 1024) };
}

/** CPU time (user + system) a process used so far, in seconds (`/proc/<pid>/stat`). */
export function cpuSecondsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (in parentheses, may hold spaces): state is field 3.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(rest[11]) + Number(rest[12]); // utime (14), stime (15)
  return ticks / 100; // USER_HZ
}

/** The samples of Prometheus metric `name` in `text` (labels as written). */
export function metricValues(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  const re = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm");
  for (const m of text.matchAll(re)) out.push({ labels: m[1] ?? "", value: Number(m[2]) });
  return out;
}

/** Sum of the samples of Prometheus metric `name` in `text` (every label set). */
export function metricSum(text: string, name: string): number {
  return metricValues(text, name).reduce((sum, s) => sum + (s.value || 0), 0);
}

/** A service's /metrics text (empty when it does not answer). */
export async function scrape(port: number): Promise<string> {
  return await fetchText(`http://127.0.0.1:${port}/metrics`) ?? "";
}

/** V8 heap used and total in MB, from a /metrics text (prom-client's `nodejs_heap_size_*`). */
export function heapOf(text: string): { usedMb: number; totalMb: number } {
  const mb = (name: string) =>
    Math.round((metricValues(text, name)[0]?.value ?? NaN) / 1024 / 1024);
  return { usedMb: mb("nodejs_heap_size_used_bytes"), totalMb: mb("nodejs_heap_size_total_bytes") };
}

/** SIGTERM a child process (if it still runs) and wait for it to exit. */
export async function terminate(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // exited
  }
  await child.status;
}
