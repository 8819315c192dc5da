DROP TABLE IF EXISTS sidecar_commands;

--bun:split

DROP TABLE IF EXISTS sync_batches;

--bun:split

DROP TABLE IF EXISTS messages;

--bun:split

DROP TABLE IF EXISTS group_participants;

--bun:split

DROP TABLE IF EXISTS groups;

--bun:split

DROP TABLE IF EXISTS chats;

--bun:split

DROP TABLE IF EXISTS contacts;

--bun:split

DROP TABLE IF EXISTS sessions;

--bun:split

DROP TABLE IF EXISTS api_tokens;

--bun:split

DROP TABLE IF EXISTS workspaces;
