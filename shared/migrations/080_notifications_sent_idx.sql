-- 080 (web, web/store.ts notificationFigures): the page's notification summary
-- reads the notifications created, sent or pending in a window with one OR of
-- the three. created_at and pending had an index, sent_at none, so the OR could
-- not be answered from indexes (a BitmapOr needs one per branch) and every
-- summary scanned the whole table: 84 ms over 200,000 notifications (90 days of
-- a busy install), growing with retention. With it: 3 ms.
CREATE INDEX IF NOT EXISTS notifications_sent_idx ON notifications (sent_at);
