-- 077 (notifier, notifier/store.ts): per email notification, the recipients
-- that had their final answer: {"<address>": "accepted" | "<permanent refusal>"}.
-- A retry goes to the others only (those the SMTP server refused for now:
-- greylisting, 451/452), so nobody gets a digest twice. Merged (`||`) with
-- each attempt's answers in the attempt's own transaction.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS recipients_done jsonb NOT NULL DEFAULT '{}';
