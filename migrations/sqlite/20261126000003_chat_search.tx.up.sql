-- SQLite has no trigram index; ListChats' search is a LIKE scan here, which
-- the embedded mode's sizes afford. Kept as a migration so versions match.
SELECT 1;
