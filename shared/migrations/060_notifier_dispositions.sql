-- 060 (notifier): two more fates of an alert taken in.
--   recorded:  its route has no channel ("record only"): stored and shown, never notified;
--   inhibited: a firing source alert (by default a CRITICAL of the same entity) suppressed
--              it in digests; `inhibited_by` names that alert.
ALTER TABLE notifier_alerts DROP CONSTRAINT IF EXISTS notifier_alerts_disposition_check;
ALTER TABLE notifier_alerts ADD CONSTRAINT notifier_alerts_disposition_check
  CHECK (disposition IN ('grouped', 'silenced', 'duplicate', 'recorded', 'inhibited'));
ALTER TABLE notifier_alerts ADD COLUMN IF NOT EXISTS inhibited_by text;
