// Package version names this build of parley.
package version

// Version is parley's version, replaced at release build time with
// -ldflags "-X parley/internal/version.Version=v1.2.3".
var Version = "0.1.0-dev"
