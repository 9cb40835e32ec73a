/**
 * Test helper: one member of the unit assignment (`runAssignment`) against
 * the real Redis, recording which units it runs.
 *
 * @module
 */
import type { Keys } from "@vigil/shared/keys";
import { silentLogger } from "@vigil/tools/testing/log";
import { runAssignment } from "../io/assignment.ts";
import type { MemberName } from "../io/member_name.ts";

/** Run member `id` over `units` (lease TTL 600 ms; `name`: its member-name hold). */
export function member(
  redis: Parameters<typeof runAssignment>[0]["redis"],
  keys: Pick<Keys, "scratch">,
  id: string,
  options: { units: readonly string[]; name?: MemberName },
) {
  const running = new Set<string>();
  const starts: string[] = [];
  const stop = new AbortController();
  const done = runAssignment({
    redis,
    member: id,
    ...(options.name ? { name: options.name } : {}),
    membersKey: keys.scratch("members"),
    units: options.units,
    leaseKey: (u) => keys.scratch("lease", u),
    ttlMs: 600,
    log: silentLogger(),
    control: {
      start: (u) => void (running.add(u), starts.push(u)),
      stop: (u) => Promise.resolve(void running.delete(u)),
      isRunning: (u) => running.has(u),
    },
  }, stop.signal);
  return { running, starts, stop: () => (stop.abort(), done) };
}
