-- A message WhatsApp delivered but this device could not decrypt yet
-- (whatsmeow's events.UndecryptableMessage): stored as a placeholder with
-- no content until the sender's device resends it and the real message
-- replaces it.
ALTER TABLE messages ADD COLUMN waiting boolean NOT NULL DEFAULT false;
