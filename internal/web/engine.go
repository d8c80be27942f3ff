package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// engine holds the templates, parsed once at start, and the static assets
// under content-hashed names.
type engine struct {
	pages  map[string]*template.Template
	assets map[string]string // "app.css" -> "/static/app.1a2b3c4d5e.css"
	files  map[string]asset  // "app.1a2b3c4d5e.css" -> content
}

type asset struct {
	body  []byte
	ctype string
}

// newEngine parses every page with the shared layout and partials. A
// template error is a start-up error, never a request-time one.
func newEngine() (*engine, error) {
	e := &engine{pages: map[string]*template.Template{}, assets: map[string]string{}, files: map[string]asset{}}
	if err := e.loadAssets(); err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New(base).Funcs(e.funcs()).ParseFS(templateFiles, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", base, err)
		}
		e.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return e, nil
}

func (e *engine) loadAssets() error {
	return fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		ctype := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
			".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8", ".ico": "image/x-icon"}[ext]
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		e.assets[name] = "/static/" + hashed
		e.files[hashed] = asset{body: b, ctype: ctype}
		return nil
	})
}

// serveAsset serves a hashed asset with a year-long, immutable cache: a
// changed file gets a new name.
func (e *engine) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := e.files[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(a.body) //nolint:errcheck // the client went away
}

// render executes a page into a buffer first, so that a template error
// answers a clean 500 rather than half a page.
func (e *engine) render(w http.ResponseWriter, status int, page string, data any) error {
	t, ok := e.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "root", data); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (e *engine) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) (string, error) {
			if p, ok := e.assets[name]; ok {
				return p, nil
			}
			return "", fmt.Errorf("no asset %q", name)
		},
		"unix":   fmtUnix,
		"unixms": func(ms int64) string { return fmtTime(msTime(ms)) },
		"ago":    func(sec int64) string { return ago(time.Unix(sec, 0)) },
		"agoms":  func(ms int64) string { return ago(msTime(ms)) },
		"until":  func(ms int64) string { return until(msTime(ms)) },
		"field":  func(f Form, name string) string { return f.Values[name] },
		"errs":   func(f Form, name string) []string { return f.Errors[name] },
		"checked": func(f Form, name string) bool {
			v := f.Values[name]
			return v == "on" || v == "true" || v == "1"
		},
		"eq1":     func(a, b string) bool { return a == b },
		"add":     func(a, b int) int { return a + b },
		"mul1000": func(sec int64) int64 { return sec * 1000 },
	}
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func fmtUnix(sec int64) string {
	if sec == 0 {
		return "—"
	}
	return fmtTime(time.Unix(sec, 0))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is a short relative time: "just now", "5 min ago", "3 h ago".
func ago(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "in " + short(-d)
	case d < 10*time.Second:
		return "just now"
	default:
		return short(d) + " ago"
	}
}

func until(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Until(t)
	if d <= 0 {
		return "now"
	}
	return "in " + short(d)
}

func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}
