/**
 * Container health check: `deno run --allow-net=127.0.0.1 shared/healthcheck.ts <url>`
 * exits 0 when `GET <url>` answers 2xx within 3 s, else 1. The Deno image
 * has no curl or wget, so compose's `healthcheck` runs this instead.
 *
 * @module
 */

/** Whether `url` answers 2xx within `timeoutMs`. */
export async function isHealthy(url: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  const url = Deno.args[0];
  if (!url) {
    Deno.stderr.writeSync(new TextEncoder().encode("usage: healthcheck.ts <url>\n"));
    Deno.exit(2);
  }
  Deno.exit((await isHealthy(url)) ? 0 : 1);
}
