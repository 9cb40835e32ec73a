/**
 * Answers of the System panel's routes (`/api/system/*`): the detector's rules
 * in force (validated as the detector's `GET /api/rules` answers them) and the
 * latest recorded retention run.
 *
 * @module
 */
import { retentionRunSchema } from "@vigil/shared/retention/runs";
import { z } from "zod";
import { isoTimeSchema as iso } from "@vigil/shared/schemas/web_api";

/** `GET /api/system/rules`: the detector's `GET /api/rules`, passed on. */
export const detectorRulesSchema = z.object({
  version: z.object({
    hash: z.string().meta({ description: "SHA-256 (hex) of the resolved rules" }),
    loaded_at: iso,
    source: z.string().meta({ description: "The rules file" }),
  }),
  last_rejected: z.object({ at: iso, trigger: z.string(), reason: z.string() }).nullable()
    .meta({ description: "The last file the detector refused (the old rules kept running)" }),
  rules: z.record(z.string(), z.unknown())
    .meta({ description: "The resolved rules (durations in ms)" }),
});

/** `GET /api/system/retention`. */
export const retentionStatusSchema = z.strictObject({
  last_run: retentionRunSchema.nullable().meta({ description: "null: no run recorded yet" }),
  next_run_at: iso.nullable()
    .meta({
      description: "When the notifier that recorded last_run runs the next, as it plans it: " +
        "finished_at + interval_ms, or after a catch-up pause as long as the run took " +
        "(10 s at least) when tables were left unfinished. null when unknown: no interval, " +
        "or the run was cut by shutdown (the next is a minute after the notifier starts). " +
        "A restart runs it a minute after start; another instance may run it sooner.",
    }),
  detector_api: z.boolean().meta({
    description: "DETECTOR_URL is set: /api/system/rules can reach the detector",
  }),
});
