-- Not in a transaction: built CONCURRENTLY. The placeholders still waiting
-- for their content, for GetSessionHealth's count: few rows, so a partial
-- index holds just them.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_messages_waiting ON messages (chat_id) WHERE waiting;
