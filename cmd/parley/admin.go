package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"parley/internal/app"
	"parley/internal/config"
	"parley/internal/store"
)

// printFirstAdmin shows the dashboard's first login, once.
func printFirstAdmin(w io.Writer, base, password string) {
	fmt.Fprintf(w, `Dashboard: %s/  (shown only now; change it with: parley admin set-password)
  Username:      %s
  Password:      %s

`, base, app.FirstAdmin, password)
}

const adminUsage = "parley admin set-password [--username admin] [--password-stdin] [--db URL]"

// adminCommand runs "parley admin set-password": it reads the new password
// from the first line of standard input (type it, or pipe it), so that it
// never appears in the process list or the shell history.
func adminCommand(ctx context.Context, args []string, env config.Getenv, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "set-password" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintf(stdout, "Usage: %s\n", adminUsage)
			return nil
		}
		return fmt.Errorf("%w: unknown admin command; try: %s", errUsage, adminUsage)
	}
	fs := newFlags("admin set-password", adminUsage, stdout)
	dbc := config.BindDB(fs, env)
	username := fs.String("username", app.FirstAdmin, "the dashboard account (created when missing)")
	fs.Bool("password-stdin", true, "read the password from standard input (the default; kept for scripts)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "New password for %s (one line, at least 10 characters): ", *username)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	fmt.Fprintln(stderr)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return fmt.Errorf("%w: admin set-password: no password on standard input", errUsage)
	}
	db, err := store.Open(ctx, dbc.DB, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	a := app.New(db, app.DefaultConfig(), slog.New(slog.NewTextHandler(stderr, nil)))
	if err := app.NewAdmins(a, app.AdminConfig{}).SetAdminPassword(ctx, *username, pw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "The password of %s is set; its open sessions are ended.\n", *username)
	return nil
}
