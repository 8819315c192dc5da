-- PostgreSQL only (the compression of batch payloads); SQLite has no such setting.
SELECT 1;
