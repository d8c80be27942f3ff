// Package webhook delivers messages to bots. This file describes the three
// pure building blocks the dispatcher is made of; the dispatcher itself
// (lanes, leases, health) documents its own invariants where it lives.
//
// # Signing (sign.go)
//
// Every delivery request carries the Standard Webhooks headers:
// webhook-id (NewMessageID, made once per delivery and kept across its
// retries, so a bot can drop duplicates), webhook-timestamp (Unix seconds
// of the attempt) and webhook-signature (SignAll). A signature is
// "v1," + base64(HMAC-SHA256(key, id "." timestamp "." body)) where the key
// is the base64 payload of a "whsec_" secret. During a secret rotation the
// header carries one signature per active secret, space-separated, and a
// bot holding either secret verifies (Verify). Guarantees: the output is
// byte-for-byte what any Standard Webhooks library computes (known-answer
// vectors in testdata/signatures.json, including the published Svix
// example); comparisons are constant-time; a secret that does not parse
// makes SignAll fail rather than send a header that cannot verify.
//
// # Retry policy (classify.go, policy.go)
//
// Classify maps one attempt's result to an Outcome and a stable ErrorClass:
//
//	2xx                                  Success
//	timeout, connection, DNS, TLS,
//	  5xx, 408, 429                      Retry  (transient)
//	other 4xx, 3xx (redirects are not
//	  followed), blocked address,
//	  invalid URL, payload too large     Fail   (permanent: retrying sends the same request to the same place)
//	410                                  Gone   (permanent, and the bot is disabled)
//
// An error of no known kind is retried, so an unexpected failure costs
// retries rather than a lost delivery. Policy.Next schedules the retries
// with capped exponential backoff and full jitter, honours Retry-After up
// to the cap, and gives up when the next attempt would be later than the
// first attempt plus MaxAge (24h by default: about 58 attempts, see
// Policy). Both are pure functions of their arguments, including the clock
// and the random source.
//
// # Safe client (guard.go, safeclient.go)
//
// Bot callback URLs are chosen by app developers, so the server must not
// become a proxy into its own network. Guard refuses loopback, private,
// link-local (cloud metadata), CGNAT, multicast, reserved and documentation
// addresses and the IPv6 forms that carry such an IPv4 address, unless the
// operator allowed the range (ParseAllowList). NewClient checks the
// resolved address of every connection in net.Dialer's Control function:
// after DNS (so a name cannot resolve around the check, and a DNS rebind is
// caught at the connection that would use it) and before connect(2) (so
// nothing is sent to a refused address). It never follows redirects, never
// uses an environment proxy, and bounds each attempt by a timeout and the
// body it can read. CheckURL and AllowsPlainHTTP are the create-time checks
// of a callback URL: https unless the host is in an allowed range.
//
// Failure policy: every check fails closed. A nil or zero Guard refuses
// every address; an address that cannot be parsed is refused; a refused
// connection is a permanent failure of that delivery (ErrorClass
// "blocked_address"), never retried, because the same URL will resolve to
// the same kind of address.
//
// Limits and timeouts are together in limits.go. Nothing in this package
// keeps package-level mutable state or starts goroutines.
package webhook
