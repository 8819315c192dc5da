-- The whatsmeow device (its full JID, "<user>:<device>@s.whatsapp.net") a
-- session is linked to: the key of its row in whatsmeow_device. Empty until
-- PairSession succeeds, and for other providers.
ALTER TABLE sessions ADD COLUMN wa_device_jid text NOT NULL DEFAULT '';
