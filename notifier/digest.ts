/**
 * The digest: what one message to one channel is about. Built by the
 * batcher, stored in PostgreSQL before any send (so a restart resends the
 * same digest with the same id), rendered by each channel.
 *
 * @module
 */
import { type Alert, SEVERITIES, type Severity } from "@vigil/shared/schemas/alert";

/** An alert as shown in a digest. */
export interface DigestAlert extends Alert {
  /** First time this firing alert appears in a digest. */
  isNew: boolean;
  /**
   * First digest to tell this alert at all: new, or resolved before any digest told it
   * firing (absent in digests stored before it was: read as `isNew`).
   */
  firstTold?: boolean;
  /** Its rule/entity is flapping (demoted to digest-only). */
  flapping: boolean;
  /** For resolved alerts: how long it fired, when known. */
  resolvedAfterMs: number | null;
  /**
   * The web path its "view" link opens, when not its anomaly (`/alerts/<id>`): the test
   * notification's alert is stored nowhere, so it links to the live view (`/`).
   */
  webPath?: string;
}

/** A rule/entity pair that changed state too often within the flap window. */
export interface FlappingEntity {
  type: string;
  rule: string;
  entity: string;
  /** Firing transitions within the window. */
  changes: number;
  /** The flap window (`FLAP_WINDOW`, ms) they were counted in; absent in digests stored before it was. */
  windowMs?: number;
}

/** One digest of a group (or an immediate CRITICAL message). */
export interface Digest {
  /** Deterministic id, fixed before the first send: the dedup and idempotency key. */
  id: string;
  /**
   * `digest`: a group's news; `repeat`: an unchanged group re-sent; `immediate`:
   * one CRITICAL alert; `test`: a test notification (test_notification.ts).
   */
  kind: "digest" | "repeat" | "immediate" | "test";
  route: string;
  groupKey: string;
  groupLabels: Record<string, string>;
  /** When the batcher produced it (ms since epoch). */
  createdAt: number;
  /** Channel names this digest goes to. */
  channels: string[];
  /** Firing alerts (new ones flagged) then resolved ones. */
  alerts: DigestAlert[];
  flapping: FlappingEntity[];
  /** Stream entries this digest accounts for (acknowledged once every channel accepted it). */
  streamIds: string[];
}

/** Sort: firing before resolved, then severity (CRITICAL first), then time, then id. */
export function compareDigestAlerts(a: DigestAlert, b: DigestAlert): number {
  if (a.status !== b.status) return a.status === "firing" ? -1 : 1;
  const s = SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity);
  if (s !== 0) return s;
  const t = Date.parse(a.detected_at) - Date.parse(b.detected_at);
  if (t !== 0 && !Number.isNaN(t)) return t;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Counts of a digest by severity (firing) and resolved. */
export function digestCounts(
  digest: Pick<Digest, "alerts">,
): { firing: Record<Severity, number>; resolved: number; total: number } {
  const firing: Record<Severity, number> = { CRITICAL: 0, WARNING: 0, INFO: 0 };
  let resolved = 0;
  for (const a of digest.alerts) {
    if (a.status === "resolved") resolved++;
    else firing[a.severity]++;
  }
  return { firing, resolved, total: digest.alerts.length };
}
