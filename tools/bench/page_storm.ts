/**
 * `deno task bench:page-storm`: an alert storm on the live view of a running
 * web (`bash tools/vigil.sh up`, or `--url=`). Opens the page in Chromium,
 * publishes `--alerts=N` (default 20000) alerts on the live channel, 200 every
 * 100 ms, then reports how long the page takes to answer (a round trip to its
 * main thread: a page busy applying alerts answers late) and its JavaScript
 * heap after a garbage collection. The alerts are copies of the newest one in
 * `vigil:{alerts}` with new ids: the page shows them, nothing stores them.
 *
 * Options: `--url=http://localhost:8080`, `--alerts=20000`, `--prefix=vigil:`
 * (VIGIL_PREFIX of the running stack), `--idle=10` (seconds the page is first left idle, its
 * main thread's busy time reported); Redis at TEST_REDIS_URL or the local one.
 *
 * @module
 */
import { chromium } from "playwright-core";
import { createKeys } from "@vigil/shared/keys";
import { sleep } from "@vigil/shared/lifecycle";
import { createRedis } from "@vigil/shared/redis";
import { TEST_REDIS_URL } from "../testing/redis.ts";
import { CHROMIUM_ARGS } from "../../web/integration/_browser.ts";
import { args, numberArg, print } from "./_cli.ts";

const url = args.url || "http://localhost:8080";
const total = numberArg("alerts", 20_000);
const keys = createKeys(args.prefix || "vigil:");
const redis = createRedis(TEST_REDIS_URL);
const newest = await redis.xrevrange(keys.alerts(), "+", "-", "COUNT", 1);
const fields = newest[0]?.[1];
if (!fields) {
  print(`Cannot run the storm: ${keys.alerts()} is empty (run bash tools/vigil.sh up first)`);
  Deno.exit(1);
}
const base = JSON.parse(fields[fields.indexOf("alert") + 1]!);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
  const cdp = await page.context().newCDPSession(page);
  const heapMb = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    const { usedSize } = await cdp.send("Runtime.getHeapUsage") as { usedSize: number };
    return Math.round(usedSize / 104857.6) / 10;
  };
  // Idle first: the page's main-thread work with nothing arriving (its timers, and each frame of
  // an animation the compositor cannot run alone), from Chromium's own TaskDuration counter.
  await cdp.send("Performance.enable");
  const busyS = async () => {
    const { metrics } = await cdp.send("Performance.getMetrics");
    return metrics.find((m) => m.name === "TaskDuration")?.value ?? NaN;
  };
  const idleS = numberArg("idle", 10);
  const busy0 = await busyS();
  await sleep(idleS * 1000);
  const idleBusyMs = Math.round((await busyS() - busy0) * 10_000 / idleS) / 10;
  print(`idle for ${idleS} s: the main thread busy ${idleBusyMs} ms a second`);
  const before = await heapMb();
  const started = performance.now();
  for (let sent = 0; sent < total;) {
    const p = redis.pipeline();
    for (let i = 0; i < 200 && sent < total; i++, sent++) {
      const alert = {
        ...base,
        id: crypto.randomUUID().replaceAll("-", ""),
        status: "firing",
        detected_at: new Date().toISOString(),
      };
      p.publish(keys.alertsChannel(), JSON.stringify(alert));
    }
    await p.exec();
    await sleep(100);
  }
  const publishedS = (performance.now() - started) / 1000;
  const asked = performance.now();
  await page.evaluate(() => document.querySelectorAll(".row").length);
  const answerMs = Math.round(performance.now() - asked);
  const result = {
    idle_busy_ms_per_s: idleBusyMs,
    alerts: total,
    published_s: Math.round(publishedS * 10) / 10,
    page_answer_ms: answerMs,
    heap_mb_before: before,
    heap_mb_after: await heapMb(),
  };
  print(
    `${total} alerts in ${result.published_s} s: the page answered after ${answerMs} ms; ` +
      `heap ${before} → ${result.heap_mb_after} MB`,
  );
  print(JSON.stringify(result));
} finally {
  await browser.close();
  redis.disconnect();
}
