-- The read side of messages: edits, deletes and their action messages.

-- action_on is the id of the message an "edited" or "deleted" action
-- message is about (0 for every other message). A permanent delete removes
-- those action messages too, since they carry snapshots of the content.
ALTER TABLE messages ADD COLUMN action_on INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_action_on ON messages (app_id, action_on) WHERE action_on <> 0;
