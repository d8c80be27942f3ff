package store

import (
	"database/sql"
	"encoding/json"
	"strings"
)

// encodeTags stores a tag list as a JSON array; nil and empty are stored
// as the empty string.
func encodeTags(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	b, _ := json.Marshal(tags) // []string always marshals
	return string(b)
}

func decodeTags(s string) []string {
	if s == "" {
		return nil
	}
	var t []string
	_ = json.Unmarshal([]byte(s), &t) // written by encodeTags
	return t
}

func encodeRaw(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return string(raw)
}

func decodeRaw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// likePrefix escapes s for a LIKE 'prefix%' pattern with ESCAPE '\'.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// likeContains escapes s for a LIKE '%s%' pattern with ESCAPE '\'.
func likeContains(s string) string { return "%" + likePrefix(s) }

// searchClause is the condition of a list's search: key is a prefix of the
// name column, of the idColumn, or of either, as searchIn names "name",
// idColumn or both. An empty searchIn means both; one that names neither
// means the name alone. prefix qualifies both columns ("g." in a join, else
// ""). The clause starts with " AND ".
func searchClause(prefix, idColumn, key string, searchIn []string) (string, []any) {
	pat := likePrefix(key)
	inName, inID := len(searchIn) == 0, len(searchIn) == 0
	for _, s := range searchIn {
		inName = inName || s == "name"
		inID = inID || s == idColumn
	}
	name, id := prefix+"name", prefix+idColumn
	switch {
	case inName && inID:
		return ` AND (` + name + ` LIKE ? ESCAPE '\' OR ` + id + ` LIKE ? ESCAPE '\')`, []any{pat, pat}
	case inID:
		return ` AND ` + id + ` LIKE ? ESCAPE '\'`, []any{pat}
	}
	return ` AND ` + name + ` LIKE ? ESCAPE '\'`, []any{pat}
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// prefixColumns qualifies every column of a comma-separated list.
func prefixColumns(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// insertedOne reads the outcome of an INSERT ... ON CONFLICT DO NOTHING of
// one row: whether the row went in. Expected conflicts are found this way,
// not by a failing statement, because a failed statement aborts the whole
// transaction on PostgreSQL (on SQLite it undoes only itself), and a use
// case may report one conflict and go on.
func insertedOne(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// withColumns scans a row whose first columns are read by another scan
// function (scanUser, …) and whose extra columns follow them.
type withColumns struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (w withColumns) Scan(dest ...any) error {
	return w.row.Scan(append(dest, w.extra...)...)
}
