-- Trigram index for ListChats' text search over chat name, contact name and
-- phone (chats.search_text, kept lower-case by the store).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

--bun:split

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_search_trgm
    ON chats USING gin (search_text gin_trgm_ops);
