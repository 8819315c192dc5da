CREATE INDEX IF NOT EXISTS idx_messages_waiting ON messages (chat_id) WHERE waiting;
