ALTER TABLE sync_batches ALTER COLUMN payload SET COMPRESSION default;
