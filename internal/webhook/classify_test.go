package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"syscall"
	"testing"
)

// timeoutErr is a net.Error that reports a timeout, like the transport's
// "timeout awaiting response headers".
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// asClientError wraps err as http.Client.Do does.
func asClientError(err error) error {
	return &url.Error{Op: "Post", URL: "https://bot.example/cb", Err: err}
}

func TestClassifyStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		outcome Outcome
		class   ErrorClass
	}{
		{200, Success, ClassNone},
		{201, Success, ClassNone},
		{204, Success, ClassNone},
		{299, Success, ClassNone},
		{300, Fail, ClassRedirect},
		{301, Fail, ClassRedirect},
		{302, Fail, ClassRedirect},
		{304, Fail, ClassRedirect},
		{307, Fail, ClassRedirect},
		{308, Fail, ClassRedirect},
		{400, Fail, ClassHTTP4xx},
		{401, Fail, ClassHTTP4xx},
		{403, Fail, ClassHTTP4xx},
		{404, Fail, ClassHTTP4xx},
		{405, Fail, ClassHTTP4xx},
		{408, Retry, ClassHTTP408},
		{409, Fail, ClassHTTP4xx},
		{410, Gone, ClassHTTP410},
		{413, Fail, ClassHTTP4xx},
		{422, Fail, ClassHTTP4xx},
		{429, Retry, ClassHTTP429},
		{499, Fail, ClassHTTP4xx},
		{500, Retry, ClassHTTP5xx},
		{502, Retry, ClassHTTP5xx},
		{503, Retry, ClassHTTP5xx},
		{504, Retry, ClassHTTP5xx},
		{599, Retry, ClassHTTP5xx},
		{0, Fail, ClassHTTPOther},
		{100, Fail, ClassHTTPOther},
		{101, Fail, ClassHTTPOther},
		{199, Fail, ClassHTTPOther},
		{600, Fail, ClassHTTPOther},
		{999, Fail, ClassHTTPOther},
	}
	for _, tt := range tests {
		o, c := Classify(tt.status, nil)
		if o != tt.outcome || c != tt.class {
			t.Errorf("Classify(%d, nil) = %v, %q; want %v, %q", tt.status, o, c, tt.outcome, tt.class)
		}
	}
}

func TestClassifyError(t *testing.T) {
	t.Parallel()
	blocked := &BlockedAddressError{Addr: netip.MustParseAddr("10.0.0.1")}
	tests := []struct {
		name    string
		status  int
		err     error
		outcome Outcome
		class   ErrorClass
	}{
		{"blocked in dial", 0, asClientError(&net.OpError{Op: "dial", Net: "tcp4", Err: blocked}), Fail, ClassBlockedAddress},
		{"blocked bare", 0, blocked, Fail, ClassBlockedAddress},
		{"invalid url from client", 0, asClientError(fmt.Errorf("%w: x", ErrInvalidURL)), Fail, ClassInvalidURL},
		{"url parse error", 0, &url.Error{Op: "parse", URL: "::", Err: errors.New("missing protocol scheme")}, Fail, ClassInvalidURL},
		{"body too large", 0, fmt.Errorf("dispatch: %w", ErrBodyTooLarge), Fail, ClassBodyTooLarge},
		{"canceled by parley", 0, asClientError(context.Canceled), Retry, ClassCanceled},
		{"no such host", 0, asClientError(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "bot.invalid", IsNotFound: true}}), Retry, ClassDNS},
		{"dns timeout is dns", 0, asClientError(&net.DNSError{Err: "timeout", Name: "bot.example", IsTimeout: true}), Retry, ClassDNS},
		{"context deadline", 0, asClientError(context.DeadlineExceeded), Retry, ClassTimeout},
		{"net timeout", 0, asClientError(timeoutErr{}), Retry, ClassTimeout},
		{"os deadline", 0, asClientError(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), Retry, ClassTimeout},
		{"certificate verification", 0, asClientError(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), Retry, ClassTLS},
		{"unknown authority", 0, asClientError(x509.UnknownAuthorityError{}), Retry, ClassTLS},
		{"hostname mismatch", 0, asClientError(x509.HostnameError{Host: "bot.example"}), Retry, ClassTLS},
		{"expired", 0, asClientError(x509.CertificateInvalidError{Reason: x509.Expired}), Retry, ClassTLS},
		{"not tls", 0, asClientError(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), Retry, ClassTLS},
		{"tls alert", 0, asClientError(&net.OpError{Op: "remote error", Err: tls.AlertError(40)}), Retry, ClassTLS},
		{"refused", 0, asClientError(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), Retry, ClassConnection},
		{"reset", 0, asClientError(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), Retry, ClassConnection},
		{"eof", 0, asClientError(io.EOF), Retry, ClassConnection},
		{"unexpected eof reading body", 200, io.ErrUnexpectedEOF, Retry, ClassConnection},
		{"unknown error", 0, errors.New("something odd"), Retry, ClassConnection},
		{"error wins over status", 200, asClientError(timeoutErr{}), Retry, ClassTimeout},
	}
	for _, tt := range tests {
		o, c := Classify(tt.status, tt.err)
		if o != tt.outcome || c != tt.class {
			t.Errorf("%s: Classify = %v, %q; want %v, %q", tt.name, o, c, tt.outcome, tt.class)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	for o, want := range map[Outcome]string{Success: "success", Retry: "retry", Fail: "fail", Gone: "gone", 0: "invalid", 99: "invalid"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}
