/**
 * Rules without a restart: the rules file is read again on SIGHUP and when it
 * changes (`Deno.watchFs` on the file itself, so the read permission of the
 * file is enough; the watch is set again after every change, since an editor
 * that saves by renaming a new file over the old one ends the old watch; and
 * the path is checked every second to still lead to the watched file, since a
 * symlink pointed elsewhere or replaced by a plain file changes no watched file).
 *
 * A file that cannot be read, is not JSON or fails validation is rejected:
 * the reason is logged (and shown by `GET /api/rules`) and the rules in force
 * keep running. A valid file whose resolved rules equal the ones in force
 * (same hash) changes nothing. Otherwise the new rules are handed to
 * `apply` (the detector reconfigures every evaluator between two batches).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { sleep } from "@vigil/shared/lifecycle";
import { errorMessage, type Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import type { HealthCheckResult } from "@vigil/shared/http/ops_app";
import { loadRulesConfig, type RulesConfig } from "../core/rules_config.ts";

/** The version of the rules in force. */
export interface RulesVersion {
  /** SHA-256 (hex) of the resolved rules as JSON (keys sorted): reformatting or reordering the file does not change it. */
  hash: string;
  /** When these rules were loaded (ISO 8601). */
  loaded_at: string;
  /** The file they came from. */
  source: string;
}

/** The last rejected file. */
export interface RulesRejection {
  at: string;
  trigger: string;
  reason: string;
}

/** Outcome of one reload. */
export type ReloadOutcome = "applied" | "unchanged" | "rejected";

/** The rules in force and how to replace them. */
export interface RulesReloader {
  current(): RulesConfig;
  version(): RulesVersion;
  lastRejection(): RulesRejection | null;
  /**
   * The `rules` health check: `warn` while the file on disk is rejected. The rules in force keep
   * running, but a restart (a crash's too) would refuse the file and stop the detector.
   */
  health(): HealthCheckResult;
  /** Read the file again now (`trigger` is logged: "SIGHUP", "file changed"…). */
  reload(trigger: string): Promise<ReloadOutcome>;
  /** Reload on SIGHUP and on changes of the file until `signal` aborts. */
  watch(signal: AbortSignal): Promise<void>;
}

/** Options of {@link createRulesReloader}. */
export interface RulesReloaderOptions {
  path: string;
  /** The rules loaded at start. */
  initial: RulesConfig;
  /** Put new rules in force (must not throw for valid rules). */
  apply(rules: RulesConfig, version: RulesVersion): void;
  log: Logger;
  registry?: Registry;
  now?: () => number;
  /** Reads and validates the file. @default {loadRulesConfig} */
  load?: (path: string) => Promise<RulesConfig>;
  /** Changes closer together than this are read once. @default {250} */
  debounceMs?: number;
  /** Listen for SIGHUP. @default {true} */
  sighup?: boolean;
}

/** Hash of resolved rules: hex SHA-256 of their JSON with every object's keys sorted. */
export function rulesHash(rules: RulesConfig): string {
  const sorted = (_key: string, value: unknown) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(
        Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
      )
      : value;
  return createHash("sha256").update(JSON.stringify(rules, sorted)).digest("hex");
}

/** Create the reloader; nothing is watched before {@link RulesReloader.watch}. */
export function createRulesReloader(options: RulesReloaderOptions): RulesReloader {
  const { path, log } = options;
  const now = options.now ?? Date.now;
  const load = options.load ?? loadRulesConfig;
  const debounceMs = options.debounceMs ?? 250;
  /**
   * How often the file at `path` is checked to still be the one watched (a symlink pointed
   * elsewhere, or replaced by a plain file, changes no watched file).
   */
  const identityPollMs = 1000;
  /** The file `path` leads to (device and inode, links followed); undefined when missing. */
  const identity = () => Deno.stat(path).then((s) => `${s.dev}:${s.ino}`, () => undefined);
  const reloads = options.registry?.counter(
    "vigil_detector_rules_reloads_total",
    "Reads of the rules file after start, by result (applied, unchanged, rejected)",
    ["result"],
  );
  let rules = options.initial;
  let version: RulesVersion = {
    hash: rulesHash(rules),
    loaded_at: new Date(now()).toISOString(),
    source: path,
  };
  let rejection: RulesRejection | null = null;
  let chain: Promise<unknown> = Promise.resolve();

  async function once(trigger: string): Promise<ReloadOutcome> {
    let next: RulesConfig;
    try {
      next = await load(path);
    } catch (error) {
      const reason = errorMessage(error);
      rejection = { at: new Date(now()).toISOString(), trigger, reason };
      log.error("rules file rejected: the rules in force keep running", {
        trigger,
        reason,
        hash: version.hash,
      });
      return "rejected";
    }
    const hash = rulesHash(next);
    if (hash === version.hash) {
      // A rejected edit reverted: the file is good again (and in force).
      rejection = null;
      log.info("rules file read: no change", { trigger, hash });
      return "unchanged";
    }
    const candidate = { hash, loaded_at: new Date(now()).toISOString(), source: path };
    options.apply(next, candidate);
    rules = next;
    version = candidate;
    rejection = null;
    log.info("rules reloaded", { trigger, hash, loaded_at: candidate.loaded_at });
    return "applied";
  }

  function reload(trigger: string): Promise<ReloadOutcome> {
    const run = chain.then(() => once(trigger));
    chain = run.catch(() => {});
    return run.then((outcome) => {
      reloads?.inc({ result: outcome });
      return outcome;
    });
  }

  /**
   * Watch the file, scheduling a reload after each change (and once at once
   * when `readNow`), until the file is replaced or removed (the watch follows
   * the old file then) or `signal` aborts. Returns false when the file cannot
   * be watched (missing).
   */
  async function follow(
    signal: AbortSignal,
    schedule: () => void,
    readNow: boolean,
  ): Promise<boolean> {
    // Taken before the watch: a file swapped in between is then seen by the check below.
    let watched = await identity();
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(path, { recursive: false });
    } catch {
      return false;
    }
    if (readNow) schedule();
    const close = () => {
      try {
        watcher.close();
      } catch {
        // already closed
      }
    };
    signal.addEventListener("abort", close, { once: true });
    // The watch is on the file the path led to: a link pointed elsewhere (`ln -sfn`), or replaced
    // by a plain file, while the old target stays, changes no watched file. Watch the new one.
    let moved = false;
    const check = setInterval(async () => {
      const current = await identity();
      if (moved || signal.aborted || current === watched) return;
      if (watched === undefined) { // it appeared as the watch was set: the watched one
        watched = current;
        return;
      }
      moved = true;
      schedule();
      close(); // ends the loop below: the path is watched again
    }, identityPollMs);
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        schedule();
        if (event.kind === "remove" || event.kind === "rename") return true;
      }
      return true;
    } finally {
      clearInterval(check);
      signal.removeEventListener("abort", close);
      close();
    }
  }

  return {
    current: () => rules,
    version: () => version,
    lastRejection: () => rejection,
    health: () =>
      rejection === null ? true : {
        status: "warn",
        problem: "the rules file on disk was rejected: the rules in force keep running, but a " +
          "restart would refuse the file and stop the detector; fix or revert it",
        rejected_at: rejection.at,
        reason: rejection.reason,
      },
    reload,
    async watch(signal) {
      const sighup = options.sighup ?? true;
      const onHup = () => void reload("SIGHUP");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const schedule = () => {
        // Let the writer finish (truncate, then write) before reading.
        clearTimeout(timer);
        timer = setTimeout(() => void reload("file changed"), debounceMs);
      };
      if (sighup) Deno.addSignalListener("SIGHUP", onHup);
      // A save by git checkout (and some editors) removes the file and writes it again a
      // moment later: look for it every 250 ms, warn once it stayed away 1 s.
      let missing = 0;
      try {
        while (!signal.aborted) {
          // Watched again after a gap: the file is new, read it.
          if (await follow(signal, schedule, missing > 0)) {
            missing = 0;
            continue;
          }
          if (++missing === 4) {
            log.warn("cannot watch the rules file: reloads on SIGHUP only until it is back", {
              path,
            });
          }
          await sleep(250, signal).catch(() => {});
        }
      } finally {
        clearTimeout(timer);
        if (sighup) Deno.removeSignalListener("SIGHUP", onHup);
      }
    },
  };
}
