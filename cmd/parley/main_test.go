package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"parley/internal/store/storetest"
)

// testDB returns the URL of a fresh database of the engine under test
// (SQLite, or PostgreSQL with PARLEY_TEST_ENGINE=postgres: see storetest).
// Tests of SQLite-only behaviour (data directories) name a file instead.
func testDB(t *testing.T) string {
	t.Helper()
	return storetest.URL(t, storetest.Engine(t))
}

// runCLI runs the command in-process with an empty environment.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, func(string) string { return "" }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "no command"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"bad address", []string{"serve", "--addr", "not-an-address", "--db", "sqlite:" + filepath.Join(dir, "a.db")}, 1, "invalid --addr"},
		{"bad port", []string{"serve", "--addr", "127.0.0.1:99999", "--db", "sqlite:" + filepath.Join(dir, "a.db")}, 1, "port"},
		{"unwritable data dir", []string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(blocker, "sub", "p.db")}, 1, "data directory"},
		{"postgres down", []string{"serve", "--addr", "127.0.0.1:0", "--db", "postgres://parley:s3cret@127.0.0.1:1/parley"}, 1, "connect to PostgreSQL at postgres://parley:xxxxx@127.0.0.1:1/parley"},
		{"bad postgres URL", []string{"serve", "--addr", "127.0.0.1:0", "--db", "postgres://h:port/parley"}, 1, "invalid PostgreSQL URL"},
		{"copy needs both ends", []string{"copy", "--from", "sqlite:" + filepath.Join(dir, "a.db")}, 2, "--from and --to are required"},
		{"copy from nothing", []string{"copy", "--from", "sqlite:" + filepath.Join(dir, "missing.db"), "--to", "sqlite:" + filepath.Join(dir, "d.db")}, 1, "source: no SQLite database at"},
		{"migrate bad URL", []string{"migrate", "--db", "mysql://x/y"}, 1, "unsupported database URL"},
		{"apps create needs a name", []string{"apps", "create", "--db", "sqlite:" + filepath.Join(dir, "b.db")}, 2, "--name is required"},
		{"apps bad region", []string{"apps", "create", "--name", "x", "--region", "mars", "--db", "sqlite:" + filepath.Join(dir, "c.db")}, 1, "region"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not say %q", stderr, c.want)
			}
			if c.name != "no command" && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace on stderr: %q", stderr)
			}
		})
	}
}

func TestCLIHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"-h"}, {"serve", "-h"}, {"apps", "create", "-h"}, {"apps", "-h"}, {"migrate", "-h"}, {"copy", "-h"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "Usage") && !strings.Contains(out, "usage") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	if code, out, _ := runCLI(t, "serve", "-h"); code != 0 || !strings.Contains(out, "-addr") || !strings.Contains(out, "PARLEY_DB") {
		t.Errorf("serve -h lists no flags: %q", out)
	}
	if _, out, _ := runCLI(t, "help"); !strings.Contains(out, "parley migrate") || !strings.Contains(out, "parley copy --from") {
		t.Errorf("help does not list migrate and copy: %q", out)
	}
	if code, out, _ := runCLI(t, "copy", "-h"); code != 0 || !strings.Contains(out, "-replace") {
		t.Errorf("copy -h lists no flags: %q", out)
	}
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "parley ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestAppsCreateJSON(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	code, out, stderr := runCLI(t, "apps", "create", "--name", "Shop", "--region", "EU", "--json", "--db", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]string
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("output is not JSON: %q", out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value: %q", out)
	}
	if len(got) != 4 || got["region"] != "eu" || len(got["restApiKey"]) != 40 || len(got["authKey"]) != 40 || got["appId"] == "" {
		t.Fatalf("fields: %v", got)
	}
}

// binary builds parley once for the tests that run the real process.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "parley-bin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "parley")
	out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return path, nil
})

// proc is a running `parley serve`.
type proc struct {
	cmd    *exec.Cmd
	base   string
	stdout *syncBuffer
	stderr *syncBuffer // the server's log
}

// syncBuffer is a bytes.Buffer safe for the copying goroutine of os/exec
// and the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var urlLine = regexp.MustCompile(`url=(http://[0-9.:]+)`)

// startBinary starts the binary on a free port and waits until it serves.
func startBinary(t *testing.T, db string, extra ...string) *proc {
	t.Helper()
	p, err := launch(t, db, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launch is startBinary for any goroutine: it returns what went wrong, with
// what the server said on stderr.
func launch(t *testing.T, db string, extra ...string) (*proc, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, extra...)...)
	cmd.Dir = t.TempDir()
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	said := &syncBuffer{}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			said.Write(append(sc.Bytes(), '\n')) //nolint:errcheck // a buffer
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case base := <-found:
		return &proc{cmd: cmd, base: base, stdout: stdout, stderr: said}, nil
	case <-ended:
		return nil, fmt.Errorf("server exited before serving: %s", said.String())
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("server did not start: %s", said.String())
	}
}

var keyLine = regexp.MustCompile(`(App ID|REST API key):\s+([0-9a-f]+)`)

// keys reads the first-start message (printed before the server logs
// that it serves, but copied from the pipe concurrently: wait for it).
func (p *proc) keys(t *testing.T) (appID, restKey string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		appID, restKey = "", ""
		for _, m := range keyLine.FindAllStringSubmatch(p.stdout.String(), -1) {
			if m[1] == "App ID" {
				appID = m[2]
			} else {
				restKey = m[2]
			}
		}
		if appID != "" && restKey != "" {
			return appID, restKey
		}
		if time.Now().After(deadline) {
			t.Fatalf("no first-start keys in %q", p.stdout.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a pipe copy; bounded by the deadline
	}
}

// request sends an API call with an app's key and the extra headers given
// as name, value pairs, and returns the status and the body. An empty body
// sends none.
func request(method, base, appID, key, path, body string, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("appId", appID)
	req.Header.Set("apiKey", key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// TestKill9KeepsAcknowledgedWrites writes concurrently, kills the process
// with SIGKILL right after the last answer, restarts it on the same
// database and checks that every write answered 200 is there.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	p := startBinary(t, db)
	appID, key := p.keys(t)

	const n = 200
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			uid := fmt.Sprintf("user-%03d", i)
			code, _, err := request("POST", p.base, appID, key, "/v3/users", `{"uid":"`+uid+`","name":"U"}`)
			if err == nil && code == 200 {
				mu.Lock()
				acked = append(acked, uid)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	if len(acked) != n {
		t.Fatalf("only %d of %d writes were acknowledged before the kill", len(acked), n)
	}

	q := startBinary(t, db)
	if strings.Contains(q.stdout.String(), "First start") {
		t.Fatal("restart created a new first app: the database was lost")
	}
	for _, uid := range acked {
		code, body, err := request("GET", q.base, appID, key, "/v3/users/"+uid, "")
		if err != nil || code != 200 {
			t.Fatalf("acknowledged user %s missing after kill -9: %d %s %v", uid, code, body, err)
		}
	}
}

// TestAppsCreateWhileServing runs `parley apps create` on the database of a
// running server; the new app works on that server at once.
func TestAppsCreateWhileServing(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	p := startBinary(t, db)
	bin, _ := binary()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "apps", "create", "--name", "Second", "--json", "--db", db).Output()
	if err != nil {
		t.Fatalf("apps create: %v", err)
	}
	var a map[string]string
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	code, body, err := request("POST", p.base, a["appId"], a["restApiKey"], "/v3/users", `{"uid":"x","name":"X"}`)
	if err != nil || code != 200 {
		t.Fatalf("new app's key on the running server: %d %s %v", code, body, err)
	}
}

// TestGracefulShutdown sends SIGTERM and expects a clean exit.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	p := startBinary(t, testDB(t))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15 s of SIGTERM")
	}
}
