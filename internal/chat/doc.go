// Package chat is parley's domain vocabulary: users, groups, messages, API
// keys and the rules that validate them, plus the error kinds every other
// package speaks. It imports only the standard library and does no I/O.
package chat
