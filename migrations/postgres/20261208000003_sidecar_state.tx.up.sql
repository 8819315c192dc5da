-- A sidecar's own state (issue 30): what it last reported of its WhatsApp
-- client, and its last history sync with the chats it could not read (a
-- JSON array of {"jid","reason"}, at most 100); and the messages per chat a
-- sidecar reads (0: its default). Constant defaults: no table rewrite.
ALTER TABLE sessions ADD COLUMN messages_per_chat integer NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_state text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN sidecar_error text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN sidecar_reported_at timestamptz;
ALTER TABLE sessions ADD COLUMN sidecar_sync_at timestamptz;
ALTER TABLE sessions ADD COLUMN sidecar_sync_total integer NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_sync_synced integer NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_unreadable_count integer NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_unreadable text NOT NULL DEFAULT '';
