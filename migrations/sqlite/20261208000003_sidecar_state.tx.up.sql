-- A sidecar's own state (issue 30); see the PostgreSQL migration.
ALTER TABLE sessions ADD COLUMN messages_per_chat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_state TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN sidecar_error TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN sidecar_reported_at TEXT;
ALTER TABLE sessions ADD COLUMN sidecar_sync_at TEXT;
ALTER TABLE sessions ADD COLUMN sidecar_sync_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_sync_synced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_unreadable_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sidecar_unreadable TEXT NOT NULL DEFAULT '';
