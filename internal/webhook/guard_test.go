package webhook

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestGuardAllowed(t *testing.T) {
	t.Parallel()
	g := NewGuard(nil)
	refused := []string{
		// loopback, unspecified, "this network"
		"127.0.0.1", "127.255.255.254", "::1", "0.0.0.0", "0.1.2.3", "::",
		// private
		"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1", "192.168.255.255",
		"fc00::1", "fd00::1", "fdff:ffff:ffff::1",
		// link-local and cloud metadata
		"169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", "fd00:ec2::254",
		// CGNAT, multicast, broadcast, reserved, special purpose
		"100.64.0.1", "100.127.255.255", "224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3",
		"255.255.255.255", "240.0.0.1", "192.0.0.1", "192.0.0.170", "198.18.0.1", "198.19.255.255",
		"192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "100::1", "fec0::1", "4000::1", "fbff::1",
		// IPv4-mapped, IPv4-translated and IPv4-compatible forms
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "::ffff:255.255.255.255",
		"::ffff:0:127.0.0.1", "::ffff:0:a9fe:a9fe", "::127.0.0.1", "::8.8.8.8",
		// NAT64 and 6to4 with a forbidden IPv4 inside, local-use NAT64, Teredo
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::c0a8:101", "64:ff9b::a00:1",
		"2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:101::1", "2002:a00:1:1::1",
		"64:ff9b:1::808:808", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
	}
	allowed := []string{
		"8.8.8.8", "1.1.1.1", "2606:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:80b::200e",
		// neighbours of refused ranges
		"11.0.0.1", "9.255.255.255", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"169.253.255.255", "169.255.0.1", "192.0.1.1", "192.167.255.255", "192.169.0.0", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "126.255.255.255", "128.0.0.0",
		// IPv4 public addresses in IPv6 forms
		"::ffff:8.8.8.8", "::ffff:0:808:808", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range refused {
		if g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("Allowed(%s) = true, want false", s)
		}
	}
	for _, s := range allowed {
		if !g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("Allowed(%s) = false, want true", s)
		}
	}
	if g.Allowed(netip.Addr{}) {
		t.Error("the zero Addr is allowed")
	}
	if (&Guard{}).Allowed(netip.MustParseAddr("8.8.8.8")) {
		t.Error("the zero Guard allows an address")
	}
	var nilGuard *Guard
	if nilGuard.Allowed(netip.MustParseAddr("8.8.8.8")) {
		t.Error("a nil Guard allows an address")
	}
}

func TestGuardAllowListOverrides(t *testing.T) {
	t.Parallel()
	allow, err := ParseAllowList("10.0.0.0/8, 127.0.0.1, fd00::/8, ::ffff:192.168.0.0/112")
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(allow)
	tests := []struct {
		ip   string
		want bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"127.0.0.1", true},
		{"127.0.0.2", false},
		{"::1", false},
		{"fd12::1", true},
		{"fd00:ec2::254", true}, // allowing fd00::/8 allows the metadata address in it: the operator's call
		{"fc00::1", false},
		{"192.168.5.5", true}, // from the IPv4-mapped prefix
		{"172.16.0.1", false},
		{"169.254.169.254", false},
		{"64:ff9b::a00:1", false}, // NAT64 form of an allowed address is not allowed
		{"8.8.8.8", true},
	}
	for _, tt := range tests {
		if got := g.Allowed(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Allowed(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	// The guard copies the list: changing the caller's slice changes nothing.
	allow[0] = netip.MustParsePrefix("0.0.0.0/0")
	if g.Allowed(netip.MustParseAddr("192.168.0.0")) != true || g.Allowed(netip.MustParseAddr("172.16.0.1")) {
		t.Error("the guard shares the caller's allow list")
	}
}

func TestGuardRefusalReason(t *testing.T) {
	t.Parallel()
	g := NewGuard(nil)
	tests := []struct{ ip, reason string }{
		{"169.254.169.254", "cloud metadata"},
		{"127.0.0.1", "loopback"},
		{"2002:a9fe:a9fe::1", "embeds 169.254.169.254: link-local"},
		{"4000::1", "outside global unicast"},
	}
	for _, tt := range tests {
		why, refused := g.refusal(netip.MustParseAddr(tt.ip))
		if !refused || !strings.Contains(why, tt.reason) {
			t.Errorf("refusal(%s) = %q, %v; want a refusal mentioning %q", tt.ip, why, refused, tt.reason)
		}
	}
}

func TestParseAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string // substring of the error; empty: no error
	}{
		{"", nil, ""},
		{" , ,", nil, ""},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, ""},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}, ""},
		{"127.0.0.1, ::1", []string{"127.0.0.1/32", "::1/128"}, ""},
		{"192.168.1.0/24,fd00::/8,", []string{"192.168.1.0/24", "fd00::/8"}, ""},
		{"::ffff:10.0.0.0/104", []string{"10.0.0.0/8"}, ""},
		{"::ffff:10.0.0.1", []string{"10.0.0.1/32"}, ""},
		{"0.0.0.0/0", []string{"0.0.0.0/0"}, ""},
		{"10.0.0.0/33", nil, `"10.0.0.0/33"`},
		{"nope", nil, `"nope"`},
		{"10.0.0.0/8,bad", nil, `"bad"`},
		{"10.0.0.0/8;11.0.0.0/8", nil, `"10.0.0.0/8;11.0.0.0/8"`},
		{"fe80::1%eth0", nil, "zones"},
		{"1.2.3.4/", nil, `"1.2.3.4/"`},
		{"/8", nil, `"/8"`},
		{"localhost", nil, `"localhost"`},
	}
	for _, tt := range tests {
		got, err := ParseAllowList(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAllowList(%q) error = %v, want one mentioning %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAllowList(%q): %v", tt.in, err)
			continue
		}
		var gotS []string
		for _, p := range got {
			gotS = append(gotS, p.String())
		}
		if !slices.Equal(gotS, tt.want) {
			t.Errorf("ParseAllowList(%q) = %v, want %v", tt.in, gotS, tt.want)
		}
	}
}

func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"", "10.0.0.0/8, 127.0.0.1", "::ffff:10.0.0.0/104", "fe80::1%eth0", "1.2.3.4/33,", ",,::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ParseAllowList(s)
		if err != nil {
			if !strings.Contains(err.Error(), "allow list entry") {
				t.Fatalf("error %q does not name the entry", err)
			}
			return
		}
		var parts []string
		for _, p := range list {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
				t.Fatalf("ParseAllowList(%q) returned %v", s, p)
			}
			parts = append(parts, p.String())
		}
		// What it returns parses back to the same list.
		again, err := ParseAllowList(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, list) {
			t.Fatalf("round trip of %v: %v, %v", list, again, err)
		}
		_ = NewGuard(list).Allowed(netip.MustParseAddr("127.0.0.1"))
	})
}

// fakeResolver answers from a map; a missing name is an error, like
// NXDOMAIN. It records the names asked.
type fakeResolver struct {
	names map[string][]string
	asked []string
}

func (r *fakeResolver) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	r.asked = append(r.asked, host)
	ips, ok := r.names[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range ips {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestGuardAllowsPlainHTTP(t *testing.T) {
	t.Parallel()
	g := NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")})
	r := &fakeResolver{names: map[string][]string{
		"localhost":      {"127.0.0.1", "::1"},
		"v4.localhost":   {"127.0.0.1"},
		"dev.internal":   {"10.0.0.5", "10.0.0.6"},
		"mixed.example":  {"10.0.0.5", "8.8.8.8"},
		"public.example": {"93.184.216.34"},
		"empty.example":  {},
	}}
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"[127.0.0.1]", true},
		{"::ffff:127.0.0.1", true},
		{"::1", false}, // loopback, but not in the allow list
		{"[::1]", false},
		{"8.8.8.8", false}, // public: https required
		{"v4.localhost", true},
		{"localhost", false}, // also resolves to ::1, which is not allowed
		{"dev.internal", true},
		{"mixed.example", false},
		{"public.example", false},
		{"nx.example", false},
		{"empty.example", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := g.AllowsPlainHTTP(t.Context(), tt.host, r.resolve); got != tt.want {
			t.Errorf("AllowsPlainHTTP(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	if slices.Contains(r.asked, "127.0.0.1") || slices.Contains(r.asked, "::1") {
		t.Errorf("IP literals were resolved: %v", r.asked)
	}
	if NewGuard(nil).AllowsPlainHTTP(t.Context(), "v4.localhost", r.resolve) {
		t.Error("plain http allowed with an empty allow list")
	}
}

func TestGuardCheckURL(t *testing.T) {
	t.Parallel()
	g := NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	r := &fakeResolver{names: map[string][]string{
		"bot.example.com": {"93.184.216.34"},
		"dev.localhost":   {"127.0.0.1"},
	}}
	tests := []struct {
		url     string
		wantErr string // substring; empty: valid
	}{
		{"https://bot.example.com/callback", ""},
		{"HTTPS://bot.example.com/callback", ""},
		{"https://bot.example.com:8443/cb?x=1", ""},
		{"http://127.0.0.1:8080/cb", ""},
		{"http://dev.localhost:8080/cb", ""},
		{"https://127.0.0.1/cb", ""},
		{"http://bot.example.com/callback", "plain http"},
		{"http://nx.example/callback", "plain http"},
		{"https://10.0.0.1/cb", "not publicly routable"},
		{"https://169.254.169.254/latest/meta-data", "not publicly routable"},
		{"https://[::1]/cb", "not publicly routable"},
		{"ftp://bot.example.com/", "scheme"},
		{"/callback", "scheme"},
		{"bot.example.com/callback", "scheme"},
		{"https:///callback", "host is missing"},
		{"https://user:pw@bot.example.com/", "user info"},
		{"https://bot.example.com/%zz", "cannot be parsed"},
	}
	for _, tt := range tests {
		err := g.CheckURL(t.Context(), tt.url, r.resolve)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("CheckURL(%q) = %v, want ErrInvalidURL mentioning %q", tt.url, err, tt.wantErr)
		}
	}
	// https needs no lookup: the dial-time check guards the address.
	noDNS := func(_ context.Context, host string) ([]netip.Addr, error) {
		t.Errorf("CheckURL resolved %q for an https URL", host)
		return nil, errors.New("unexpected lookup")
	}
	if err := g.CheckURL(t.Context(), "https://bot.example.com/cb", noDNS); err != nil {
		t.Errorf("CheckURL(https) = %v", err)
	}
}
