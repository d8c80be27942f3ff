package server

import (
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"

	"parley/internal/store/storetest"
)

// TestHealthAndReady: /healthz answers while the process lives, /readyz
// when the database answers at this binary's schema version.
func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
}

// TestReadyWhenSchemaDiffers: /readyz answers 503 while the schema is
// ahead of this binary's migrations (a newer node migrated it) or behind
// them, and 200 again once it matches; /healthz stays 200.
func TestReadyWhenSchemaDiffers(t *testing.T) {
	t.Parallel()
	engine := storetest.Engine(t)
	url := storetest.URL(t, engine)
	e, _ := startOn(t, url, nil, Options{})
	driver, dsn := "pgx", url
	if engine == storetest.SQLite {
		// The server writes too: wait for its lock as it does.
		driver, dsn = "sqlite", "file:"+strings.TrimPrefix(url, "sqlite:")+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), rebindTest(engine, q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var latest int64
	var name string
	var applied int64
	if err := db.QueryRowContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version DESC LIMIT 1`).Scan(&latest, &name, &applied); err != nil {
		t.Fatal(err)
	}
	notReady := func(what string) {
		t.Helper()
		code, body := get(t, e.base+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "schema is not at this version's migrations") {
			t.Errorf("%s: /readyz %d %q", what, code, body)
		}
		if code, _ := get(t, e.base+"/healthz"); code != 200 {
			t.Errorf("%s: /healthz %d", what, code)
		}
	}
	ready := func(what string) {
		t.Helper()
		if code, body := get(t, e.base+"/readyz"); code != 200 {
			t.Errorf("%s: /readyz %d %q", what, code, body)
		}
	}
	ready("at start")
	exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from a newer binary', 0)`, latest+1)
	notReady("schema ahead")
	exec(`DELETE FROM schema_migrations WHERE version = ?`, latest+1)
	ready("schema back")
	exec(`DELETE FROM schema_migrations WHERE version = ?`, latest)
	notReady("schema behind")
	exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, latest, name, applied)
	ready("schema current again")
}

// rebindTest turns '?' into $n for PostgreSQL (no '?' in literals here).
func rebindTest(engine, q string) string {
	if engine != storetest.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
