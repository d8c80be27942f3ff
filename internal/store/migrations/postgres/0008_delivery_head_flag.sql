-- A lane (bot, conversation) sends its pending deliveries one at a time,
-- in id order: only its oldest pending delivery, the head, can be
-- attempted. The engine used to find heads by looking at every pending
-- delivery, so each round cost as much as the whole backlog, and one
-- stalled bot's backlog slowed every other bot's deliveries. head marks the
-- lane's oldest pending delivery (store keeps it: see deliveries.go), and
-- the engine reads heads only, through deliveries_heads. deliveries_leased
-- counts a bot's attempts in flight without reading its backlog.
-- deliveries_pending served the next due time, which heads now give: one
-- index less to keep on every delivery.
ALTER TABLE deliveries ADD COLUMN head INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET head = 1 WHERE state = 'pending' AND id = (
    SELECT min(x.id) FROM deliveries x WHERE x.app_id = deliveries.app_id AND x.bot_uid = deliveries.bot_uid
        AND x.conversation_id = deliveries.conversation_id AND x.state = 'pending');
-- deliveries_heads covers what a round reads of each head before it
-- chooses (the engine's in-flight heads come back every round on one node).
CREATE INDEX deliveries_heads ON deliveries (next_attempt_at, id, app_id, bot_uid, kind, lease_until) WHERE state = 'pending' AND head = 1;
CREATE INDEX deliveries_leased ON deliveries (app_id, bot_uid, lease_until) WHERE state = 'pending' AND lease_until > 0;
DROP INDEX deliveries_pending;
