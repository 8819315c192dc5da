ALTER TABLE sessions DROP COLUMN wa_device_jid;
