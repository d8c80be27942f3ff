package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
)

// Outcome is what the dispatcher does after one delivery attempt. The zero
// value is not an outcome, so a forgotten assignment is not taken for
// Success.
type Outcome int

const (
	// Success: the bot answered 2xx. The delivery is done.
	Success Outcome = iota + 1
	// Retry: a transient failure (timeout, connection or TLS error, 5xx,
	// 408, 429). Another attempt is scheduled by Policy.Next.
	Retry
	// Fail: a permanent failure (another 4xx, a redirect, a refused address,
	// an invalid URL). The delivery ends as failed; retrying cannot help.
	Fail
	// Gone: the bot answered 410 Gone. The delivery ends as failed and the
	// bot is disabled.
	Gone
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Retry:
		return "retry"
	case Fail:
		return "fail"
	case Gone:
		return "gone"
	}
	return "invalid"
}

// ErrorClass names why an attempt failed, in a few stable words for logs,
// metrics labels and the attempts API. It is empty for a successful
// attempt. The values are part of the API: do not rename them.
type ErrorClass string

const (
	ClassNone           ErrorClass = ""                // 2xx
	ClassTimeout        ErrorClass = "timeout"         // no complete answer within the per-attempt timeout
	ClassConnection     ErrorClass = "connection"      // refused, reset, closed early, malformed response
	ClassDNS            ErrorClass = "dns"             // the host name did not resolve
	ClassTLS            ErrorClass = "tls"             // bad certificate or handshake
	ClassCanceled       ErrorClass = "canceled"        // parley stopped the attempt (shutdown); not the bot's fault
	ClassBlockedAddress ErrorClass = "blocked_address" // the guard refused the resolved address
	ClassInvalidURL     ErrorClass = "invalid_url"     // the callback URL cannot be requested
	ClassBodyTooLarge   ErrorClass = "body_too_large"  // the payload is larger than parley sends
	ClassRedirect       ErrorClass = "redirect"        // 3xx: redirects are not followed
	ClassHTTP408        ErrorClass = "http_408"
	ClassHTTP410        ErrorClass = "http_410"
	ClassHTTP429        ErrorClass = "http_429"
	ClassHTTP4xx        ErrorClass = "http_4xx" // any other 4xx
	ClassHTTP5xx        ErrorClass = "http_5xx"
	ClassHTTPOther      ErrorClass = "http_other" // a status outside 200–599 or 1xx
)

// ErrBodyTooLarge is returned by the dispatcher (and classified here) when a
// payload is larger than it will send. Retrying would send the same bytes,
// so it is a permanent failure.
var ErrBodyTooLarge = errors.New("webhook: payload too large")

// Classify turns the result of one attempt (the response status when a
// response arrived, else the error of http.Client.Do or of reading the
// body) into what to do next and why. An error wins over a status.
//
// Errors are recognised by type, never by message text; an error of no
// known kind is a connection error and is retried, so an unknown failure
// costs retries, not a lost delivery.
func Classify(status int, err error) (Outcome, ErrorClass) {
	if err != nil {
		return classifyError(err)
	}
	switch {
	case status >= 200 && status <= 299:
		return Success, ClassNone
	case status >= 300 && status <= 399:
		return Fail, ClassRedirect
	case status == 408:
		return Retry, ClassHTTP408
	case status == 410:
		return Gone, ClassHTTP410
	case status == 429:
		return Retry, ClassHTTP429
	case status >= 400 && status <= 499:
		return Fail, ClassHTTP4xx
	case status >= 500 && status <= 599:
		return Retry, ClassHTTP5xx
	}
	return Fail, ClassHTTPOther
}

func classifyError(err error) (Outcome, ErrorClass) {
	var (
		blocked  *BlockedAddressError
		urlErr   *url.Error
		dnsErr   *net.DNSError
		netErr   net.Error
		certErr  *tls.CertificateVerificationError
		alertErr tls.AlertError
		recErr   tls.RecordHeaderError
		unknownA x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &blocked):
		return Fail, ClassBlockedAddress
	case errors.Is(err, ErrInvalidURL), errors.As(err, &urlErr) && urlErr.Op == "parse":
		return Fail, ClassInvalidURL
	case errors.Is(err, ErrBodyTooLarge):
		return Fail, ClassBodyTooLarge
	case errors.Is(err, context.Canceled):
		return Retry, ClassCanceled
	case errors.As(err, &dnsErr):
		return Retry, ClassDNS
	case errors.As(err, &certErr), errors.As(err, &alertErr), errors.As(err, &recErr),
		errors.As(err, &unknownA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return Retry, ClassTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return Retry, ClassTimeout
	}
	return Retry, ClassConnection
}
