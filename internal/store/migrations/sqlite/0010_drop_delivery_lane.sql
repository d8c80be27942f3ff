-- deliveries_lane indexed every delivery by its lane, finished or not: one
-- more B-tree leaf written per message at a place of its own (the lanes are
-- many), which made a large database markedly slower to relay into. The
-- pending part of a lane has its own index (deliveries_lane_pending); the
-- one other reader, the hop of the newest message relayed to a bot in a
-- conversation, walks the conversation's newest messages and looks up
-- each one's delivery to the bot by message instead (Tx.LastRelayedHop):
-- deliveries_message gains the bot, so that this lookup is one seek.
DROP INDEX deliveries_lane;
DROP INDEX deliveries_message;
CREATE INDEX deliveries_message ON deliveries (app_id, message_id, bot_uid);
