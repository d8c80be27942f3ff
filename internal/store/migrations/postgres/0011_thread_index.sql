-- messages_parent indexed every message by its parent, though almost every
-- message has none (parent_id 0): one more B-tree page written per message
-- for an entry no query reads (threads are read by their parent's id, which
-- is never 0). It now holds thread replies only. Its queries state
-- parent_id <> 0 beside parent_id = ?, so that both engines' planners may
-- use a partial index for a bound parameter.
DROP INDEX messages_parent;
CREATE INDEX messages_parent ON messages (app_id, parent_id, id) WHERE parent_id <> 0;
