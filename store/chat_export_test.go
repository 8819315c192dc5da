package store

// ListChatsSQL is the SQL ListChats runs, for the EXPLAIN tests.
func (s *Store) ListChatsSQL(f ChatFilter, after *ChatCursor, limit int) string {
	return s.listChatsQuery(f, after, limit).String()
}
