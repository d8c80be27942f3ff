package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Guard decides which addresses parley may connect to when it delivers to a
// bot. It refuses every address that is not publicly routable (loopback,
// private, link-local including cloud metadata endpoints, CGNAT, multicast,
// reserved and documentation ranges) and the IPv6 forms that smuggle such an
// IPv4 address (IPv4-mapped, IPv4-translated, NAT64, 6to4), unless the
// address is inside a prefix the operator allowed.
//
// A Guard is immutable after NewGuard and safe for concurrent use. The zero
// Guard (and a nil *Guard) refuses every address.
type Guard struct {
	allow    []netip.Prefix
	reserved []reservedRange
}

// reservedRange is one refused prefix, with the reason it is refused.
type reservedRange struct {
	prefix netip.Prefix
	why    string
}

// reservedRanges returns the prefixes a Guard refuses. Built by NewGuard,
// not kept in a package variable, so that no code can change the list.
func reservedRanges() []reservedRange {
	list := []struct{ cidr, why string }{
		// IPv4.
		{"0.0.0.0/8", "this network; 0.0.0.0 reaches the local host on Linux"},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT (RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local, including the cloud metadata service 169.254.169.254"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignments (RFC 6890)"},
		{"192.0.2.0/24", "documentation TEST-NET-1"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking (RFC 2544)"},
		{"198.51.100.0/24", "documentation TEST-NET-2"},
		{"203.0.113.0/24", "documentation TEST-NET-3"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved, and the limited broadcast 255.255.255.255"},
		// IPv6. IPv4-mapped addresses (::ffff:0:0/96) are unmapped and
		// checked as IPv4 before this list is consulted; addresses outside
		// 2000::/3 are refused by isReserved, so most entries below only
		// document intent and keep the reason at hand.
		{"::/96", "unspecified, loopback and the deprecated IPv4-compatible form"},
		{"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"},
		{"100::/64", "discard-only (RFC 6666)"},
		{"2001::/32", "Teredo: tunnels to an embedded, obfuscated IPv4 address"},
		{"2001:db8::/32", "documentation"},
		{"fc00::/7", "unique local, including the AWS metadata service fd00:ec2::254"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]reservedRange, len(list))
	for i, r := range list {
		out[i] = reservedRange{netip.MustParsePrefix(r.cidr), r.why}
	}
	return out
}

// NewGuard returns a Guard that refuses reserved addresses except those
// inside allow.
func NewGuard(allow []netip.Prefix) *Guard {
	return &Guard{allow: append([]netip.Prefix(nil), allow...), reserved: reservedRanges()}
}

// ParseAllowList parses the operator's list of allowed ranges: CIDR
// prefixes or bare IP addresses (a single-address prefix), separated by
// commas, with optional spaces; empty entries are ignored, so "" allows
// nothing. IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104) are stored as
// their IPv4 form, because the Guard unmaps addresses before matching.
// Zones are refused. Errors name the bad entry.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseAllowEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("webhook: allow list entry %q: %w", entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseAllowEntry(entry string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(entry, "/") {
		var err error
		if p, err = netip.ParsePrefix(entry); err != nil {
			return p, errors.New("not a CIDR prefix")
		}
	} else {
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return p, errors.New("not an IP address or CIDR prefix")
		}
		if a.Zone() != "" {
			return p, errors.New("zones are not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Allowed reports whether parley may connect to ip: true when ip is inside
// an allowed prefix, otherwise when it is not reserved. The zone is ignored
// and IPv4-mapped addresses are checked as IPv4. An allowed IPv4 range does
// not extend to its NAT64 or 6to4 forms: allow those prefixes explicitly.
func (g *Guard) Allowed(ip netip.Addr) bool {
	_, refused := g.refusal(ip)
	return !refused
}

// refusal is Allowed with the reason of a refusal.
func (g *Guard) refusal(ip netip.Addr) (why string, refused bool) {
	if g == nil || g.reserved == nil {
		return "no guard configured", true
	}
	if !ip.IsValid() {
		return "invalid address", true
	}
	ip = ip.WithZone("").Unmap()
	if g.inAllowList(ip) {
		return "", false
	}
	return g.reservedBecause(ip)
}

func (g *Guard) inAllowList(ip netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (g *Guard) reservedBecause(ip netip.Addr) (string, bool) {
	for _, r := range g.reserved {
		if r.prefix.Contains(ip) {
			return r.why, true
		}
	}
	if v4, ok := embeddedIPv4(ip); ok {
		why, refused := g.reservedBecause(v4)
		if refused {
			why = "embeds " + v4.String() + ": " + why
		}
		return why, refused
	}
	// Outside 2000::/3 (global unicast) every IPv6 address is reserved or
	// unassigned; the usable exceptions (NAT64, IPv4-translated) carry an
	// IPv4 address and were judged above.
	if ip.Is6() && ip.As16()[0]&0xe0 != 0x20 {
		return "IPv6 outside global unicast 2000::/3", true
	}
	return "", false
}

// embeddedIPv4 returns the IPv4 address carried by an IPv6 address whose
// packets end up at that IPv4 address: NAT64 (64:ff9b::/96, RFC 6052),
// IPv4-translated (::ffff:0:a.b.c.d, RFC 2765) and 6to4 (2002:AABB:CCDD::/48,
// RFC 3056). A public IPv4 address in these forms is allowed.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && allZero(b[4:12]):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case allZero(b[0:8]) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0:
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case b[0] == 0x20 && b[1] == 0x02:
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Resolver looks up the addresses of a host name. Tests pass a fake; nil
// means net.DefaultResolver.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// AllowsPlainHTTP reports whether a callback URL with this host may use
// plain http: when the host is an IP literal inside an allowed prefix, or a
// name whose addresses (at least one) are all inside allowed prefixes.
// Public hosts must use https; a name that does not resolve is refused.
// host is a URL's Hostname() (no port; brackets around IPv6 are tolerated).
//
// This is a check at bot create and update time. Addresses can change
// later; the dial-time check of NewClient still refuses reserved addresses
// that are not allowed, whatever the scheme.
func (g *Guard) AllowsPlainHTTP(ctx context.Context, host string, resolve Resolver) bool {
	if g == nil {
		return false
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return g.inAllowList(ip.WithZone("").Unmap())
	}
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	addrs, err := resolve(ctx, host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !g.inAllowList(a.WithZone("").Unmap()) {
			return false
		}
	}
	return true
}

// CheckURL validates a bot's callback URL at create and update time: an
// absolute http or https URL with a host and no user info (credentials
// belong in the bot's Basic auth settings, where they are kept secret);
// plain http only where AllowsPlainHTTP; an IP-literal host must be
// Allowed. The error wraps ErrInvalidURL and its text is safe to show to
// the user.
func (g *Guard) CheckURL(ctx context.Context, raw string, resolve Resolver) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: cannot be parsed", ErrInvalidURL)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: the scheme must be https (or http where the operator allows it)", ErrInvalidURL)
	case u.Hostname() == "":
		return fmt.Errorf("%w: the host is missing", ErrInvalidURL)
	case u.User != nil:
		return fmt.Errorf("%w: user info is not allowed; use the bot's basic auth settings", ErrInvalidURL)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !g.Allowed(ip) {
		return fmt.Errorf("%w: the address %s is not publicly routable", ErrInvalidURL, ip)
	}
	if u.Scheme == "http" && !g.AllowsPlainHTTP(ctx, u.Hostname(), resolve) {
		return fmt.Errorf("%w: plain http is allowed only for hosts in the operator's allowed ranges; use https", ErrInvalidURL)
	}
	return nil
}
