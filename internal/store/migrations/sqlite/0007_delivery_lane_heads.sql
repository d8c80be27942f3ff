-- The delivery engine looks up, for each pending delivery it considers,
-- the oldest pending delivery of the same lane (store.DueLaneHeads). On
-- deliveries_lane that walks past every finished delivery of the lane
-- (their state is only in the table), so every engine round got slower as
-- conversations with bots grew longer. This index holds pending deliveries
-- only: a lane's head is its first entry.
CREATE INDEX deliveries_lane_pending ON deliveries (app_id, bot_uid, conversation_id, id) WHERE state = 'pending';
