/**
 * One process per DETECTOR_MEMBER (io/member_name.ts), against the real
 * Redis: two processes given the same name used to renew the same leases
 * and consume the same units, each with its own windows.
 */
import assert from "node:assert/strict";
import { interceptCalls, withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { spawnService } from "@vigil/tools/testing/services";
import { waitFor } from "@vigil/tools/testing/wait";
import { ConfigError } from "@vigil/shared/config";
import { silentLogger } from "@vigil/tools/testing/log";
import { member } from "./_assignment.ts";
import { claimMemberName, type MemberName } from "../io/member_name.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const units = ["logs:0", "logs:1"];

Deno.test(
  "claimMemberName(): takes a free name, waits out a stopped process's hold, refuses a renewed one",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const signal = new AbortController().signal;
      const log = silentLogger();
      const key = keys.detectorMemberName("a");
      const name = (token: string): MemberName => ({ key, member: "a", token, ttlMs: 600 });

      // Timed from before "one" takes the name: its hold lapses 600 ms after that at the
      // earliest, however long the steps in between take on a busy machine.
      const claimed = Date.now();
      await claimMemberName(redis, name("one"), { log, signal });
      assert.equal(await redis.get(key), "one");
      assert.ok(Number(await redis.pttl(key)) > 0, "held with a TTL");

      // "one" stopped without releasing the name (a crash): "two" waits its hold out.
      await claimMemberName(redis, name("two"), { log, signal });
      assert.equal(await redis.get(key), "two");
      assert.ok(Date.now() - claimed >= 600, "waited for the old hold to lapse");

      // "two" keeps running (renews its hold): "three" is refused, naming the setting.
      const renewing = setInterval(() => redis.set(key, "two", "PX", 600).catch(() => {}), 100);
      try {
        await assert.rejects(
          claimMemberName(redis, name("three"), { log, signal }),
          (error: Error) =>
            error instanceof ConfigError &&
            /DETECTOR_MEMBER=a is in use by another running detector/.test(error.message),
        );
      } finally {
        clearInterval(renewing);
      }
    }),
);

Deno.test(
  "runAssignment(): a name taken by another process stops the units until the name is this one's again",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const name = { key: keys.detectorMemberName("a"), member: "a", token: "mine", ttlMs: 600 };
      await claimMemberName(redis, name, {
        log: silentLogger(),
        signal: AbortSignal.timeout(5000),
      });
      // What a asks of Redis: its rounds (each begins with its name) and any release of a lease.
      // (The leases themselves lapse 600 ms after the last round that renewed them: on a busy
      // machine, before the test could read them once the units had stopped.)
      const leases = new Set(units.map((u) => keys.scratch("lease", u)));
      let rounds = 0;
      const released: string[] = [];
      const watched = interceptCalls(redis, (command, args) => {
        if (command === "eval" && args[2] === name.key) rounds++;
        const deletes = command === "del" || command === "unlink" ||
          (command === "eval" && String(args[0]).includes("'DEL'"));
        if (deletes) released.push(...args.map(String).filter((k) => leases.has(k)));
      });
      const a = member(watched, keys, "a", { units, name });
      const { running } = a;
      try {
        await waitFor(() => running.size === 2, { what: "both units" });
        // This process was paused past its TTL and another of the same name took the name.
        await redis.set(name.key, "other", "PX", 60_000);
        await waitFor(() => running.size === 0, { what: "units stopped" });
        // The round that stopped them is over once the next one has begun.
        const stoppedIn = rounds;
        await waitFor(() => rounds > stoppedIn, { what: "the next round of a" });
        assert.deepEqual(released, [], "leases not released");
        await redis.del(name.key); // the other one left
        await waitFor(() => running.size === 2, { what: "units again" });
        assert.equal(await redis.get(name.key), "mine");
      } finally {
        await a.stop();
      }
      assert.equal(await redis.get(name.key), null, "released when leaving");
    }),
);

Deno.test(
  "a second detector process with the same DETECTOR_MEMBER stops at start, exit 2, saying what to fix",
  opts,
  () =>
    withPg(({ url }) =>
      withRedis(async ({ prefix }) => {
        const env = {
          DATABASE_URL: url,
          VIGIL_PREFIX: prefix,
          DETECTOR_MEMBER: "twin",
          DETECTOR_LEASE_TTL: "1s",
          LOG_LEVEL: "info",
        };
        const first = await spawnService("detector", { ...env, DETECTOR_PORT: "0" });
        try {
          await first.waitForLine((l) => l.msg === "detector running", "first detector running");
          const second = await spawnService("detector", { ...env, DETECTOR_PORT: "0" });
          // Before: it ran beside the first, on the same leases.
          const running = second.waitForLine((l) => l.msg === "detector running", "", 20_000)
            .then(() => "running", () => "not running");
          const outcome = await Promise.race([second.status.then(() => "exited"), running]);
          if (outcome !== "exited") await second.stop();
          assert.equal(outcome, "exited", second.tail());
          assert.equal((await second.status).code, 2, second.tail());
          const line = second.lines().find((l) => l.msg === "cannot start detector");
          assert.ok(line, second.tail());
          assert.match(
            (line.error as { message: string }).message,
            /DETECTOR_MEMBER=twin is in use by another running detector .*give each instance its own DETECTOR_MEMBER/,
          );
          assert.equal(first.lines().filter((l) => l.level === "error").length, 0, first.tail());
        } finally {
          await first.stop();
        }
      })
    ),
);
