package tenancy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// newRequest builds a server-side request the way net/http's server does: the
// target is parsed with url.ParseRequestURI (no cleaning), headers are added with
// their canonical names.
func newRequest(t testing.TB, target string, header ...string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatalf("ParseRequestURI(%q): %v", target, err)
	}
	r.URL, r.RequestURI = u, target
	if len(header)%2 != 0 {
		t.Fatalf("newRequest: odd number of header arguments")
	}
	for i := 0; i < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func mustPrefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// checkErr compares err against want: nil means no error is expected,
// errAny any error that wraps none of the request sentinels (a configuration
// error), and a sentinel that errors.Is must match.
var errAny = errors.New("any configuration error")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want == nil:
	case err == nil:
		t.Fatalf("got no error, want one wrapping %v", want)
	case want == errAny:
		for _, s := range []error{ErrMalformedRequest, ErrUnknownTenant, ErrTenantMismatch} {
			if errors.Is(err, s) {
				t.Fatalf("configuration error %q wraps %v", err, s)
			}
		}
	case !errors.Is(err, want):
		t.Fatalf("error %q does not wrap %v", err, want)
	}
	// Error messages never repeat a hostile value in full.
	if err != nil && len(err.Error()) > 700 {
		t.Fatalf("error message is %d bytes long: %.100q...", len(err.Error()), err.Error())
	}
}

func TestNormalizeHost(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	name253 := strings.Join([]string{long(63), long(63), long(63), long(61)}, ".")
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"example.com", "example.com"},
		{"acme.example.com", "acme.example.com"},
		{"localhost", "localhost"},
		{"Example.COM", "example.com"},
		{"example.com:8080", "example.com"},
		{"EXAMPLE.com:443", "example.com"},
		{"example.com:", "example.com"},
		{"example.com.", "example.com"},
		{"example.com.:443", "example.com"},
		{"1.2.3.4", "1.2.3.4"},
		{"1.2.3.4:80", "1.2.3.4"},
		{"123.example", "123.example"},
		{"a-b--c.example", "a-b--c.example"},
		{"[::1]", "::1"},
		{"[::1]:8080", "::1"},
		{"::1", "::1"},
		{"[0:0:0:0:0:0:0:1]:80", "::1"},
		{"[FE80::AB]", "fe80::ab"},
		{"2001:DB8::1", "2001:db8::1"},
		{"[::ffff:1.2.3.4]", "::ffff:1.2.3.4"},
		{"xn--bcher-kva.de", "xn--bcher-kva.de"},
		{"XN--BCHER-KVA.DE.", "xn--bcher-kva.de"},
		{long(63) + ".com", long(63) + ".com"},
		{name253, name253},
		{name253 + ".", name253},
		{name253 + ".:65535", name253},

		{"", ""},
		{".", ""},
		{":8080", ""},
		{".:8080", ""},
		{"example.com..", ""},
		{"..example.com", ""},
		{"a..b", ""},
		{".example.com", ""},
		{"example.com:80a", ""},
		{"example.com:123456", ""},
		{"example.com:-1", ""},
		{"example.com:8080.", ""},
		{"example.com: 80", ""},
		{"a:b:c", ""},
		{"example.com:80:90", ""},
		{"[::1", ""},
		{"[::1]x", ""},
		{"[::1]:http", ""},
		{"[1.2.3.4]", ""},
		{"[example.com]", ""},
		{"[fe80::1%25eth0]", ""},
		{"fe80::1%eth0", ""},
		{"[]", ""},
		{"ex ample.com", ""},
		{" example.com", ""},
		{"example.com ", ""},
		{"exa_mple.com", ""},
		{"-acme.example.com", ""},
		{"acme-.example.com", ""},
		{"acme.example.com/evil", ""},
		{"user@acme.example.com", ""},
		{`acme.example.com\x`, ""},
		{"acme.example.com%2e", ""},
		{"acme\x00.example.com", ""},
		{"acme\n.example.com", ""},
		{"acme\r\nX-Evil: 1", ""},
		{"bücher.de", ""},                 // IDN in Unicode form: send punycode
		{"аcme.example.com", ""},          // Cyrillic а
		{"acme.example.com\u3002com", ""}, // ideographic full stop
		{"ａｃｍｅ.com", ""},                  // full-width letters
		{"acme\xff.com", ""},
		{long(64) + ".com", ""},
		{name253 + "a", ""},
		{name253 + "..", ""},
		{long(100000), ""},
		{`a"; drop schema shared cascade; --`, ""},
		{"a,public", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeHost(tt.in)
		if tt.want == "" {
			var he *HostError
			if err == nil || !errors.As(err, &he) {
				t.Errorf("NormalizeHost(%.80q) = %q, %v; want a *HostError", tt.in, got, err)
				continue
			}
			if got != "" || len(he.Host) > maxClip+3 || len(err.Error()) > 300 {
				t.Errorf("NormalizeHost(%.80q) = %q, error %.200q: too long or not empty", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeHost(%.80q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if again, err := NormalizeHost(got); again != got || err != nil {
			t.Errorf("NormalizeHost(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
}

func TestHostErrorMessage(t *testing.T) {
	_, err := NormalizeHost("exa mple.com")
	const want = `tenancy: invalid host "exa mple.com": it contains ' ' (only a-z, 0-9, - and . are allowed)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestHeaderResolver(t *testing.T) {
	huge := strings.Repeat("a", 300)
	tests := []struct {
		name    string
		res     HeaderResolver
		header  []string // name, value pairs
		want    Key
		wantErr error
	}{
		{"missing", HeaderResolver{}, nil, Key{}, nil},
		{"other header only", HeaderResolver{}, []string{"X-Tenant", "acme"}, Key{}, nil},
		{"schema", HeaderResolver{}, []string{"Tenant", "acme"}, Key{By: BySchema, Value: "acme"}, nil},
		{"lower-case name on the wire", HeaderResolver{}, []string{"tenant", "acme"}, Key{By: BySchema, Value: "acme"}, nil},
		{"original app's schema", HeaderResolver{}, []string{"tenant", "v2_6c0ad5866ea249d78abd861625eca82a"},
			Key{By: BySchema, Value: "v2_6c0ad5866ea249d78abd861625eca82a"}, nil},
		{"surrounding blanks", HeaderResolver{}, []string{"Tenant", " \tacme \t"}, Key{By: BySchema, Value: "acme"}, nil},
		{"same value twice", HeaderResolver{}, []string{"Tenant", "acme", "Tenant", " acme"}, Key{By: BySchema, Value: "acme"}, nil},
		{"63 bytes", HeaderResolver{}, []string{"Tenant", strings.Repeat("a", 63)}, Key{By: BySchema, Value: strings.Repeat("a", 63)}, nil},

		{"empty", HeaderResolver{}, []string{"Tenant", ""}, Key{}, ErrMalformedRequest},
		{"blank", HeaderResolver{}, []string{"Tenant", "  \t "}, Key{}, ErrMalformedRequest},
		{"different values", HeaderResolver{}, []string{"Tenant", "acme", "Tenant", "other"}, Key{}, ErrMalformedRequest},
		{"second value empty", HeaderResolver{}, []string{"Tenant", "acme", "Tenant", ""}, Key{}, ErrMalformedRequest},
		{"comma list", HeaderResolver{}, []string{"Tenant", "acme, other"}, Key{}, ErrMalformedRequest},
		{"oversized", HeaderResolver{}, []string{"Tenant", huge}, Key{}, ErrMalformedRequest},
		{"64 bytes", HeaderResolver{}, []string{"Tenant", strings.Repeat("a", 64)}, Key{}, ErrMalformedRequest},
		{"upper case", HeaderResolver{}, []string{"Tenant", "ACME"}, Key{}, ErrMalformedRequest},
		{"sql injection", HeaderResolver{}, []string{"Tenant", `a"; drop schema shared cascade; --`}, Key{}, ErrMalformedRequest},
		{"search_path list", HeaderResolver{}, []string{"Tenant", "a,public"}, Key{}, ErrMalformedRequest},
		{"quoted", HeaderResolver{}, []string{"Tenant", `"acme"`}, Key{}, ErrMalformedRequest},
		{"public", HeaderResolver{}, []string{"Tenant", "public"}, Key{}, ErrMalformedRequest},
		{"pg_catalog", HeaderResolver{}, []string{"Tenant", "pg_catalog"}, Key{}, ErrMalformedRequest},
		{"information_schema", HeaderResolver{}, []string{"Tenant", "information_schema"}, Key{}, ErrMalformedRequest},
		{"digit first", HeaderResolver{}, []string{"Tenant", "1acme"}, Key{}, ErrMalformedRequest},
		{"NUL", HeaderResolver{}, []string{"Tenant", "ac\x00me"}, Key{}, ErrMalformedRequest},
		{"newline", HeaderResolver{}, []string{"Tenant", "acme\nfoo"}, Key{}, ErrMalformedRequest},
		{"Cyrillic look-alike", HeaderResolver{}, []string{"Tenant", "аcme"}, Key{}, ErrMalformedRequest},
		{"dotless i", HeaderResolver{}, []string{"Tenant", "acmeı"}, Key{}, ErrMalformedRequest},
		{"zero-width space", HeaderResolver{}, []string{"Tenant", "ac\u200bme"}, Key{}, ErrMalformedRequest},
		{"invalid UTF-8", HeaderResolver{}, []string{"Tenant", "acme\xff"}, Key{}, ErrMalformedRequest},

		{"custom name", HeaderResolver{Name: "X-Tenant-Id"}, []string{"x-tenant-id", "acme"}, Key{By: BySchema, Value: "acme"}, nil},
		{"non-canonical custom name", HeaderResolver{Name: "x-tenant-id"}, []string{"X-Tenant-Id", "acme"}, Key{By: BySchema, Value: "acme"}, nil},
		{"custom name ignores default", HeaderResolver{Name: "X-Tenant-Id"}, []string{"Tenant", "acme"}, Key{}, nil},

		{"host", HeaderResolver{By: ByHost}, []string{"Tenant", "Acme.Example.com.:443"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"host punycode", HeaderResolver{By: ByHost}, []string{"Tenant", "xn--bcher-kva.de"}, Key{By: ByHost, Value: "xn--bcher-kva.de"}, nil},
		{"host unicode", HeaderResolver{By: ByHost}, []string{"Tenant", "bücher.de"}, Key{}, ErrMalformedRequest},
		{"host invalid", HeaderResolver{By: ByHost}, []string{"Tenant", "a b"}, Key{}, ErrMalformedRequest},
		{"host oversized", HeaderResolver{By: ByHost}, []string{"Tenant", huge}, Key{}, ErrMalformedRequest},

		{"name", HeaderResolver{By: ByName}, []string{"Tenant", "Acme Corp"}, Key{By: ByName, Value: "Acme Corp"}, nil},
		{"name unicode", HeaderResolver{By: ByName}, []string{"Tenant", "Zürich AG – Ωmega"}, Key{By: ByName, Value: "Zürich AG – Ωmega"}, nil},
		{"name sql-looking is just a name", HeaderResolver{By: ByName}, []string{"Tenant", `a"; drop schema shared cascade; --`},
			Key{By: ByName, Value: `a"; drop schema shared cascade; --`}, nil},
		{"name NUL", HeaderResolver{By: ByName}, []string{"Tenant", "Acme\x00"}, Key{}, ErrMalformedRequest},
		{"name DEL", HeaderResolver{By: ByName}, []string{"Tenant", "Acme\x7f"}, Key{}, ErrMalformedRequest},
		{"name C1 control", HeaderResolver{By: ByName}, []string{"Tenant", "Acme\u0085"}, Key{}, ErrMalformedRequest},
		{"name bidi override", HeaderResolver{By: ByName}, []string{"Tenant", "Acme\u202e"}, Key{}, ErrMalformedRequest},
		{"name zero-width joiner", HeaderResolver{By: ByName}, []string{"Tenant", "Ac\u200dme"}, Key{}, ErrMalformedRequest},
		{"name no-break space", HeaderResolver{By: ByName}, []string{"Tenant", "Acme\u00a0Corp"}, Key{}, ErrMalformedRequest},
		{"name invalid UTF-8", HeaderResolver{By: ByName}, []string{"Tenant", "Acme\xc3"}, Key{}, ErrMalformedRequest},
		{"name oversized", HeaderResolver{By: ByName}, []string{"Tenant", huge}, Key{}, ErrMalformedRequest},
		{"name MaxLen", HeaderResolver{By: ByName, MaxLen: 5}, []string{"Tenant", "abcdef"}, Key{}, ErrMalformedRequest},
		{"name MaxLen ok", HeaderResolver{By: ByName, MaxLen: 5}, []string{"Tenant", "abcde"}, Key{By: ByName, Value: "abcde"}, nil},
		{"name 300 with MaxLen 1000", HeaderResolver{By: ByName, MaxLen: 1000}, []string{"Tenant", huge}, Key{By: ByName, Value: huge}, nil},

		{"invalid By", HeaderResolver{By: 9}, []string{"Tenant", "acme"}, Key{}, errAny},
		{"negative MaxLen", HeaderResolver{MaxLen: -1}, []string{"Tenant", "acme"}, Key{}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(t, "/", tt.header...)
			got, err := tt.res.ResolveTenant(r)
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestHeaderResolverErrorMessage(t *testing.T) {
	r := newRequest(t, "/", "Tenant", "a,public")
	_, err := HeaderResolver{}.ResolveTenant(r)
	const want = `tenancy: malformed tenant in request: header "Tenant" value "a,public": it may contain only a-z, 0-9 and _`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestHostResolver(t *testing.T) {
	trusted := mustPrefixes(t, "10.0.0.0/8", "2001:db8::/32", "fe80::/10")
	tests := []struct {
		name       string
		res        HostResolver
		host       string
		remoteAddr string
		header     []string
		want       Key
		wantErr    error
	}{
		{"plain", HostResolver{}, "acme.example.com", "", nil, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"port, case, dot", HostResolver{}, "Acme.Example.COM.:8443", "", nil, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"IPv6 literal", HostResolver{}, "[::1]:8080", "", nil, Key{By: ByHost, Value: "::1"}, nil},
		{"punycode", HostResolver{}, "xn--bcher-kva.example", "", nil, Key{By: ByHost, Value: "xn--bcher-kva.example"}, nil},
		{"empty host", HostResolver{}, "", "", nil, Key{}, nil},
		{"malformed", HostResolver{}, "acme example", "", nil, Key{}, ErrMalformedRequest},
		{"unicode IDN", HostResolver{}, "bücher.example", "", nil, Key{}, ErrMalformedRequest},
		{"look-alike", HostResolver{}, "аcme.example.com", "", nil, Key{}, ErrMalformedRequest},

		{"forwarded ignored without trusted proxies", HostResolver{}, "acme.example.com", "10.0.0.1:1234",
			[]string{"X-Forwarded-Host", "evil.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"forwarded from untrusted remote (spoofed)", HostResolver{TrustedProxies: trusted}, "acme.example.com", "203.0.113.9:1234",
			[]string{"X-Forwarded-Host", "evil.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"malformed forwarded from untrusted remote is ignored", HostResolver{TrustedProxies: trusted}, "acme.example.com", "203.0.113.9:1234",
			[]string{"X-Forwarded-Host", "evil example"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"trusted proxy", HostResolver{TrustedProxies: trusted}, "backend.internal:8080", "10.1.2.3:5555",
			[]string{"X-Forwarded-Host", "Acme.Example.com:443"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"trusted proxy without forwarded host", HostResolver{TrustedProxies: trusted}, "acme.example.com", "10.1.2.3:5555",
			nil, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"trusted proxy appended to client's list", HostResolver{TrustedProxies: trusted}, "backend", "10.1.2.3:5555",
			[]string{"X-Forwarded-Host", "evil.example.com, acme.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"trusted proxy added a second header line", HostResolver{TrustedProxies: trusted}, "backend", "10.1.2.3:5555",
			[]string{"X-Forwarded-Host", "evil.example.com", "X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"trusted proxy, empty forwarded host", HostResolver{TrustedProxies: trusted}, "backend", "10.1.2.3:5555",
			[]string{"X-Forwarded-Host", ""}, Key{}, ErrMalformedRequest},
		{"trusted proxy, empty last element", HostResolver{TrustedProxies: trusted}, "backend", "10.1.2.3:5555",
			[]string{"X-Forwarded-Host", "acme.example.com, "}, Key{}, ErrMalformedRequest},
		{"trusted proxy, malformed forwarded host", HostResolver{TrustedProxies: trusted}, "backend", "10.1.2.3:5555",
			[]string{"X-Forwarded-Host", "acme_example"}, Key{}, ErrMalformedRequest},
		{"IPv4-mapped remote", HostResolver{TrustedProxies: trusted}, "backend", "[::ffff:10.0.0.1]:443",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"remote without port", HostResolver{TrustedProxies: trusted}, "backend", "10.0.0.1",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"IPv6 remote", HostResolver{TrustedProxies: trusted}, "backend", "[2001:db8::5]:443",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"zoned remote", HostResolver{TrustedProxies: trusted}, "backend", "[fe80::1%eth0]:443",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "acme.example.com"}, nil},
		{"untrusted IPv6 remote", HostResolver{TrustedProxies: trusted}, "backend", "[2001:db9::5]:443",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "backend"}, nil},
		{"unix socket remote", HostResolver{TrustedProxies: trusted}, "backend", "@",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "backend"}, nil},
		{"empty remote", HostResolver{TrustedProxies: trusted}, "backend", "",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "backend"}, nil},
		{"garbage remote", HostResolver{TrustedProxies: trusted}, "backend", "10.0.0.1.evil:80",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "backend"}, nil},
		{"remote spoofing a prefix in text", HostResolver{TrustedProxies: trusted}, "backend", "10.0.0.1 203.0.113.9:80",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: ByHost, Value: "backend"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(t, "/", tt.header...)
			r.Host, r.RemoteAddr = tt.host, tt.remoteAddr
			got, err := tt.res.ResolveTenant(r)
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestHostResolverErrorIsHostError(t *testing.T) {
	r := newRequest(t, "/")
	r.Host = "acme example"
	_, err := HostResolver{}.ResolveTenant(r)
	var he *HostError
	if !errors.Is(err, ErrMalformedRequest) || !errors.As(err, &he) || he.Host != "acme example" {
		t.Fatalf("got %v, want ErrMalformedRequest and *HostError", err)
	}
}

func TestSubdomainResolver(t *testing.T) {
	base := SubdomainResolver{Domain: "example.com"}
	trusted := mustPrefixes(t, "10.0.0.0/8")
	tests := []struct {
		name       string
		res        SubdomainResolver
		host       string
		remoteAddr string
		header     []string
		want       Key
		wantErr    error
	}{
		{"tenant", base, "acme.example.com", "", nil, Key{By: BySchema, Value: "acme"}, nil},
		{"port, case, dot", base, "ACME.Example.COM.:443", "", nil, Key{By: BySchema, Value: "acme"}, nil},
		{"underscore-free schema", base, "v2x9.example.com", "", nil, Key{By: BySchema, Value: "v2x9"}, nil},
		{"base domain", base, "example.com", "", nil, Key{}, nil},
		{"base domain with dot", base, "example.com.", "", nil, Key{}, nil},
		{"other domain", base, "acme.example.org", "", nil, Key{}, nil},
		{"suffix without dot", base, "notexample.com", "", nil, Key{}, nil},
		{"suffix without dot, nested", base, "acme.notexample.com", "", nil, Key{}, nil},
		{"base as a subdomain elsewhere", base, "acme.example.com.evil.org", "", nil, Key{}, nil},
		{"nested", base, "a.b.example.com", "", nil, Key{}, nil},
		{"IP host", base, "[::1]:80", "", nil, Key{}, nil},
		{"empty host", base, "", "", nil, Key{}, nil},
		{"malformed host", base, "ac me.example.com", "", nil, Key{}, ErrMalformedRequest},
		{"unicode IDN", base, "bücher.example.com", "", nil, Key{}, ErrMalformedRequest},
		{"hyphen cannot be a schema", base, "acme-corp.example.com", "", nil, Key{}, ErrUnknownTenant},
		{"digit first cannot be a schema", base, "1st.example.com", "", nil, Key{}, ErrUnknownTenant},
		{"public cannot be a tenant", base, "public.example.com", "", nil, Key{}, ErrUnknownTenant},
		{"punycode cannot be a schema", base, "xn--bcher-kva.example.com", "", nil, Key{}, ErrUnknownTenant},
		{"excluded", SubdomainResolver{Domain: "example.com", Exclude: []string{"www", "api"}}, "WWW.example.com", "", nil, Key{}, nil},
		{"not excluded", SubdomainResolver{Domain: "example.com", Exclude: []string{"www"}}, "acme.example.com", "", nil, Key{By: BySchema, Value: "acme"}, nil},
		{"domain not normalised", SubdomainResolver{Domain: "Example.COM."}, "acme.example.com", "", nil, Key{By: BySchema, Value: "acme"}, nil},
		{"deeper domain", SubdomainResolver{Domain: "apps.example.com"}, "acme.apps.example.com", "", nil, Key{By: BySchema, Value: "acme"}, nil},
		{"by name", SubdomainResolver{Domain: "example.com", By: ByName}, "acme-corp.example.com", "", nil, Key{By: ByName, Value: "acme-corp"}, nil},

		{"forwarded from untrusted remote", SubdomainResolver{Domain: "example.com", TrustedProxies: trusted}, "acme.example.com", "203.0.113.9:1",
			[]string{"X-Forwarded-Host", "evil.example.com"}, Key{By: BySchema, Value: "acme"}, nil},
		{"forwarded from trusted proxy", SubdomainResolver{Domain: "example.com", TrustedProxies: trusted}, "backend:8080", "10.0.0.2:1",
			[]string{"X-Forwarded-Host", "acme.example.com"}, Key{By: BySchema, Value: "acme"}, nil},

		{"no domain", SubdomainResolver{}, "acme.example.com", "", nil, Key{}, errAny},
		{"invalid domain", SubdomainResolver{Domain: "exa mple.com"}, "acme.example.com", "", nil, Key{}, errAny},
		{"IP domain", SubdomainResolver{Domain: "[::1]"}, "acme.example.com", "", nil, Key{}, errAny},
		{"by host", SubdomainResolver{Domain: "example.com", By: ByHost}, "acme.example.com", "", nil, Key{}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(t, "/", tt.header...)
			r.Host, r.RemoteAddr = tt.host, tt.remoteAddr
			got, err := tt.res.ResolveTenant(r)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == ErrUnknownTenant && errors.Is(err, ErrMalformedRequest) {
				t.Fatalf("error %v also wraps ErrMalformedRequest", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestPathResolver(t *testing.T) {
	tests := []struct {
		name    string
		res     PathResolver
		target  string
		want    Key
		wantErr error
	}{
		{"tenant", PathResolver{}, "/acme/users/", Key{By: BySchema, Value: "acme", StripPrefix: "/acme"}, nil},
		{"tenant only", PathResolver{}, "/acme", Key{By: BySchema, Value: "acme", StripPrefix: "/acme"}, nil},
		{"tenant slash", PathResolver{}, "/acme/", Key{By: BySchema, Value: "acme", StripPrefix: "/acme"}, nil},
		{"query", PathResolver{}, "/acme?tenant=other", Key{By: BySchema, Value: "acme", StripPrefix: "/acme"}, nil},
		{"encoded later segment", PathResolver{}, "/acme/a%2Fb", Key{By: BySchema, Value: "acme", StripPrefix: "/acme"}, nil},
		{"dot segments later", PathResolver{}, "/acme/../other/", Key{By: BySchema, Value: "acme", StripPrefix: "/acme"}, nil},
		{"root", PathResolver{}, "/", Key{}, nil},
		{"asterisk", PathResolver{}, "*", Key{}, nil},

		{"double slash", PathResolver{}, "//acme/users", Key{}, ErrMalformedRequest},
		{"dot dot", PathResolver{}, "/../acme", Key{}, ErrMalformedRequest},
		{"dot", PathResolver{}, "/./acme", Key{}, ErrMalformedRequest},
		{"encoded dot dot", PathResolver{}, "/%2e%2e/acme", Key{}, ErrMalformedRequest},
		{"encoded slash", PathResolver{}, "/acme%2Fother/users", Key{}, ErrMalformedRequest},
		{"encoded slash lower", PathResolver{}, "/acme%2fother", Key{}, ErrMalformedRequest},
		{"encoded letter", PathResolver{}, "/%61cme/users", Key{}, ErrMalformedRequest},
		{"backslash", PathResolver{}, `/acme\..\x`, Key{}, ErrMalformedRequest},
		{"upper case", PathResolver{}, "/ACME/users", Key{}, ErrMalformedRequest},
		{"sql injection", PathResolver{}, "/a%22;%20drop%20schema%20shared%20cascade;%20--/", Key{}, ErrMalformedRequest},
		{"comma", PathResolver{}, "/a,public/", Key{}, ErrMalformedRequest},
		{"semicolon param", PathResolver{}, "/acme;v=1/", Key{}, ErrMalformedRequest},
		{"NUL", PathResolver{}, "/ac%00me/", Key{}, ErrMalformedRequest},
		{"newline", PathResolver{}, "/ac%0Ame/", Key{}, ErrMalformedRequest},
		{"public", PathResolver{}, "/public/x", Key{}, ErrMalformedRequest},
		{"pg_toast", PathResolver{}, "/pg_toast/x", Key{}, ErrMalformedRequest},
		{"Cyrillic look-alike", PathResolver{}, "/%D0%B0cme/", Key{}, ErrMalformedRequest},
		{"64 bytes", PathResolver{}, "/" + strings.Repeat("a", 64), Key{}, ErrMalformedRequest},
		{"oversized", PathResolver{}, "/" + strings.Repeat("a", 5000) + "/x", Key{}, ErrMalformedRequest},

		{"name", PathResolver{By: ByName}, "/Acme%20Corp/users", Key{By: ByName, Value: "Acme Corp", StripPrefix: "/Acme Corp"}, nil},
		{"name dot dot", PathResolver{By: ByName}, "/../x", Key{}, ErrMalformedRequest},
		{"name encoded dot dot", PathResolver{By: ByName}, "/%2E%2E/x", Key{}, ErrMalformedRequest},
		{"name encoded slash", PathResolver{By: ByName}, "/a%2Fb/x", Key{}, ErrMalformedRequest},
		{"name NUL", PathResolver{By: ByName}, "/a%00b/x", Key{}, ErrMalformedRequest},
		{"name leading space", PathResolver{By: ByName}, "/%20acme/x", Key{}, ErrMalformedRequest},
		{"name MaxLen", PathResolver{By: ByName, MaxLen: 3}, "/abcd/x", Key{}, ErrMalformedRequest},

		{"host", PathResolver{By: ByHost}, "/acme.example.com/x", Key{By: ByHost, Value: "acme.example.com", StripPrefix: "/acme.example.com"}, nil},
		{"host not normalised", PathResolver{By: ByHost}, "/ACME.example.com/x", Key{}, ErrMalformedRequest},
		{"host with port", PathResolver{By: ByHost}, "/acme.example.com:80/x", Key{}, ErrMalformedRequest},

		{"invalid By", PathResolver{By: 0xff}, "/acme", Key{}, errAny},
		{"negative MaxLen", PathResolver{MaxLen: -5}, "/acme", Key{}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(t, tt.target)
			got, err := tt.res.ResolveTenant(r)
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
			if got.StripPrefix != "" {
				checkStrip(t, r, got)
			}
		})
	}
}

// checkStrip applies the key's StripPrefix the way http.StripPrefix does and
// checks that both the path and the raw path lose exactly the tenant segment.
func checkStrip(t *testing.T, r *http.Request, k Key) {
	t.Helper()
	var seen *url.URL
	h := http.StripPrefix(k.StripPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.URL }))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen == nil {
		t.Fatalf("http.StripPrefix(%q) refused %q (raw %q)", k.StripPrefix, r.URL.Path, r.URL.RawPath)
	}
	if seen.Path != r.URL.Path[len(k.StripPrefix):] {
		t.Fatalf("stripped path %q, want %q", seen.Path, r.URL.Path[len(k.StripPrefix):])
	}
	if seen.Path != "" && seen.Path[0] != '/' {
		t.Fatalf("stripped path %q does not start at a segment boundary", seen.Path)
	}
}

func TestPathResolverOddURLs(t *testing.T) {
	for _, u := range []*url.URL{nil, {}, {Path: ""}, {Opaque: "x"}} {
		got, err := PathResolver{}.ResolveTenant(&http.Request{URL: u})
		if err != nil || !got.IsZero() {
			t.Errorf("URL %#v: got %v, %v; want zero Key", u, got, err)
		}
	}
	// A relative path, as a client-side request might carry.
	if _, err := (PathResolver{}).ResolveTenant(&http.Request{URL: &url.URL{Path: "acme/x"}}); !errors.Is(err, ErrMalformedRequest) {
		t.Errorf("relative path: got %v, want ErrMalformedRequest", err)
	}
	// An inconsistent RawPath (set by hand) is refused rather than trusted.
	r := &http.Request{URL: &url.URL{Path: "/acme/x", RawPath: "/other/x"}}
	if _, err := (PathResolver{}).ResolveTenant(r); !errors.Is(err, ErrMalformedRequest) {
		t.Errorf("inconsistent RawPath: got %v, want ErrMalformedRequest", err)
	}
}

// stub returns a resolver that always answers k, err, and counts its calls.
func stub(k Key, err error, calls *int) TenantResolver {
	return ResolverFunc(func(*http.Request) (Key, error) {
		if calls != nil {
			*calls++
		}
		return k, err
	})
}

func TestFirstOf(t *testing.T) {
	res := FirstOf(HeaderResolver{}, HostResolver{})
	tests := []struct {
		name    string
		header  []string
		host    string
		want    Key
		wantErr error
	}{
		{"header wins", []string{"Tenant", "acme"}, "other.example.com", Key{By: BySchema, Value: "acme"}, nil},
		{"host when no header", nil, "Other.Example.com:80", Key{By: ByHost, Value: "other.example.com"}, nil},
		{"malformed header is not hidden", []string{"Tenant", "ACME"}, "other.example.com", Key{}, ErrMalformedRequest},
		{"nothing", nil, "", Key{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(t, "/", tt.header...)
			r.Host = tt.host
			got, err := res.ResolveTenant(r)
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}

	t.Run("stops at the first answer", func(t *testing.T) {
		var calls int
		got, err := FirstOf(stub(Key{}, nil, &calls), stub(Key{By: ByName, Value: "a"}, nil, &calls), stub(Key{}, errAny, &calls)).
			ResolveTenant(newRequest(t, "/"))
		if err != nil || got.Value != "a" || calls != 2 {
			t.Fatalf("got %v, %v after %d calls", got, err, calls)
		}
	})
	t.Run("an error hides a partial key", func(t *testing.T) {
		got, err := FirstOf(stub(Key{By: ByName, Value: "a"}, ErrMalformedRequest, nil)).ResolveTenant(newRequest(t, "/"))
		if !errors.Is(err, ErrMalformedRequest) || !got.IsZero() {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		got, err := FirstOf().ResolveTenant(newRequest(t, "/"))
		if err != nil || !got.IsZero() {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("nil panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("FirstOf(nil) did not panic")
			}
		}()
		FirstOf(HeaderResolver{}, nil)
	})
	t.Run("does not alias its argument", func(t *testing.T) {
		rs := []TenantResolver{stub(Key{By: ByName, Value: "a"}, nil, nil)}
		f := FirstOf(rs...)
		rs[0] = stub(Key{By: ByName, Value: "b"}, nil, nil)
		if got, _ := f.ResolveTenant(newRequest(t, "/")); got.Value != "a" {
			t.Fatalf("got %v", got)
		}
	})
}

func TestAllAgree(t *testing.T) {
	schemaA := Key{By: BySchema, Value: "acme"}
	schemaB := Key{By: BySchema, Value: "other"}
	host := Key{By: ByHost, Value: "acme.example.com"}
	name := Key{By: ByName, Value: "Acme"}
	path := Key{By: BySchema, Value: "acme", StripPrefix: "/acme"}
	pathHost := Key{By: ByHost, Value: "acme.example.com", StripPrefix: "/acme.example.com"}
	tests := []struct {
		name    string
		keys    []Key
		errs    []error
		want    Key
		wantErr error
	}{
		{"none", nil, nil, Key{}, nil},
		{"all zero", []Key{{}, {}}, nil, Key{}, nil},
		{"one", []Key{{}, host}, nil, host, nil},
		{"one path", []Key{path, {}}, nil, path, nil},
		{"same key twice", []Key{schemaA, schemaA}, nil, schemaA, nil},
		{"same key, one from the path", []Key{schemaA, path}, nil, path, nil},
		{"same kind, different values", []Key{schemaA, schemaB}, nil, Key{}, ErrTenantMismatch},
		{"different kinds", []Key{schemaA, host}, nil, Key{agree: []Key{schemaA, host}}, nil},
		{"different kinds with a path", []Key{host, {}, path}, nil, Key{StripPrefix: "/acme", agree: []Key{host, schemaA}}, nil},
		{"three kinds, one repeated", []Key{schemaA, host, path, name}, nil,
			Key{StripPrefix: "/acme", agree: []Key{schemaA, host, name}}, nil},
		{"first StripPrefix wins", []Key{pathHost, path}, nil,
			Key{StripPrefix: "/acme.example.com", agree: []Key{host, schemaA}}, nil},
		{"mismatch after agreement", []Key{schemaA, host, {By: ByHost, Value: "evil.example.com"}}, nil, Key{}, ErrTenantMismatch},
		{"error", []Key{schemaA, {}}, []error{nil, ErrMalformedRequest}, Key{}, ErrMalformedRequest},
		{"error before answers", []Key{{}, schemaA}, []error{ErrMalformedRequest, nil}, Key{}, ErrMalformedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := make([]TenantResolver, len(tt.keys))
			for i, k := range tt.keys {
				var err error
				if tt.errs != nil {
					err = tt.errs[i]
				}
				rs[i] = stub(k, err, nil)
			}
			got, err := AllAgree(rs...).ResolveTenant(newRequest(t, "/"))
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}

	t.Run("consults all", func(t *testing.T) {
		var calls int
		_, err := AllAgree(stub(schemaA, nil, &calls), stub(Key{}, nil, &calls), stub(schemaA, nil, &calls)).ResolveTenant(newRequest(t, "/"))
		if err != nil || calls != 3 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
	t.Run("nested", func(t *testing.T) {
		inner := AllAgree(stub(schemaA, nil, nil), stub(host, nil, nil))
		got, err := AllAgree(inner, stub(path, nil, nil), stub(name, nil, nil)).ResolveTenant(newRequest(t, "/"))
		want := Key{StripPrefix: "/acme", agree: []Key{schemaA, host, name}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v, %v; want %#v", got, err, want)
		}
		if got.String() != "schema:acme&host:acme.example.com&name:Acme" {
			t.Fatalf("String() = %q", got.String())
		}
	})
	t.Run("nested mismatch", func(t *testing.T) {
		inner := AllAgree(stub(schemaA, nil, nil), stub(host, nil, nil))
		_, err := AllAgree(inner, stub(schemaB, nil, nil)).ResolveTenant(newRequest(t, "/"))
		checkErr(t, err, ErrTenantMismatch)
	})
	t.Run("real resolvers", func(t *testing.T) {
		res := AllAgree(HeaderResolver{}, PathResolver{}, HostResolver{})
		r := newRequest(t, "/acme/users", "Tenant", "acme")
		r.Host = "acme.example.com"
		got, err := res.ResolveTenant(r)
		want := Key{StripPrefix: "/acme", agree: []Key{schemaA, host}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v, %v; want %#v", got, err, want)
		}
		r = newRequest(t, "/other/users", "Tenant", "acme")
		if _, err := res.ResolveTenant(r); !errors.Is(err, ErrTenantMismatch) {
			t.Fatalf("header acme, path other: got %v, want ErrTenantMismatch", err)
		}
	})
	t.Run("nil panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("AllAgree(nil) did not panic")
			}
		}()
		AllAgree(nil)
	})
}

func TestValidateResolver(t *testing.T) {
	tests := []struct {
		name string
		res  TenantResolver
		ok   bool
	}{
		{"header zero", HeaderResolver{}, true},
		{"header full", HeaderResolver{Name: "x-tenant-id", By: ByName, MaxLen: 10}, true},
		{"header bad name", HeaderResolver{Name: "X Tenant"}, false},
		{"header bad name colon", HeaderResolver{Name: "Tenant:"}, false},
		{"header bad By", HeaderResolver{By: 7}, false},
		{"header bad MaxLen", HeaderResolver{MaxLen: -1}, false},
		{"host zero", HostResolver{}, true},
		{"host proxies", HostResolver{TrustedProxies: mustPrefixes(t, "10.0.0.0/8")}, true},
		{"host bad proxy", HostResolver{TrustedProxies: []netip.Prefix{{}}}, false},
		{"subdomain", SubdomainResolver{Domain: "example.com"}, true},
		{"subdomain zero", SubdomainResolver{}, false},
		{"subdomain by host", SubdomainResolver{Domain: "example.com", By: ByHost}, false},
		{"subdomain bad proxy", SubdomainResolver{Domain: "example.com", TrustedProxies: []netip.Prefix{{}}}, false},
		{"path zero", PathResolver{}, true},
		{"path bad By", PathResolver{By: 4}, false},
		{"func", ResolverFunc(func(*http.Request) (Key, error) { return Key{}, nil }), true},
		{"nil", nil, false},
		{"first of", FirstOf(HeaderResolver{}, PathResolver{}), true},
		{"first of bad", FirstOf(HeaderResolver{}, SubdomainResolver{}), false},
		{"all agree bad", AllAgree(HeaderResolver{}, FirstOf(PathResolver{By: 9})), false},
	}
	for _, tt := range tests {
		err := validateResolver(tt.res)
		if (err == nil) != tt.ok {
			t.Errorf("%s: validateResolver = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// hotPathResolvers returns resolvers that all resolve hotPathRequest, for the
// allocation test and the benchmarks.
func hotPathResolvers() map[string]TenantResolver {
	return map[string]TenantResolver{
		"Header":         HeaderResolver{},
		"HeaderCustom":   HeaderResolver{Name: "X-Tenant-Id"},
		"Host":           HostResolver{},
		"HostTrusted":    HostResolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		"Subdomain":      SubdomainResolver{Domain: "example.com", Exclude: []string{"www"}},
		"Path":           PathResolver{},
		"FirstOf":        FirstOf(HeaderResolver{Name: "X-Absent"}, HostResolver{}),
		"AllAgreeSame":   AllAgree(HeaderResolver{}, PathResolver{}),
		"AllAgreeHeader": AllAgree(HeaderResolver{}, HeaderResolver{Name: "X-Absent"}),
	}
}

// hotPathRequest is a typical request behind a trusted proxy.
func hotPathRequest(tb testing.TB) *http.Request {
	r := newRequest(tb, "/acme/users/", "Tenant", "acme", "X-Tenant-Id", "acme",
		"X-Forwarded-Host", "acme.example.com", "Accept", "*/*", "User-Agent", "test")
	r.Host = "acme.example.com:8443"
	r.RemoteAddr = "10.1.2.3:45678"
	return r
}

func TestResolverAllocs(t *testing.T) {
	r := hotPathRequest(t)
	for name, res := range hotPathResolvers() {
		k, err := res.ResolveTenant(r)
		if err != nil || k.IsZero() {
			t.Fatalf("%s: got %v, %v", name, k, err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = res.ResolveTenant(r) }); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", name, n)
		}
	}
	for _, h := range []string{"acme.example.com", "acme.example.com:8080", "[::1]:80", "1.2.3.4"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = NormalizeHost(h) }); n != 0 {
			t.Errorf("NormalizeHost(%q): %v allocations, want 0", h, n)
		}
	}
}

func TestResolversDoNotMutateRequest(t *testing.T) {
	resolvers := hotPathResolvers()
	resolvers["AllAgreeMixed"] = AllAgree(HeaderResolver{}, HostResolver{}, PathResolver{})
	for name, res := range resolvers {
		r := hotPathRequest(t)
		before := r.Clone(r.Context())
		if _, err := res.ResolveTenant(r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(r.Header, before.Header) || *r.URL != *before.URL || r.Host != before.Host ||
			r.RemoteAddr != before.RemoteAddr || r.RequestURI != before.RequestURI {
			t.Errorf("%s modified the request", name)
		}
	}
}

func TestResolversConcurrent(t *testing.T) {
	res := FirstOf(AllAgree(HeaderResolver{}, PathResolver{}), SubdomainResolver{Domain: "example.com"}, HostResolver{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := hotPathRequest(t)
			for j := 0; j < 200; j++ {
				if k, err := res.ResolveTenant(r); err != nil || k.Value != "acme" {
					t.Errorf("got %v, %v", k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkResolver(b *testing.B) {
	r := hotPathRequest(b)
	for _, name := range []string{"Header", "HeaderCustom", "Host", "HostTrusted", "Subdomain", "Path", "FirstOf", "AllAgreeSame"} {
		res := hotPathResolvers()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := res.ResolveTenant(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNormalizeHost(b *testing.B) {
	for _, h := range []string{"acme.example.com", "acme.example.com:8443", "Acme.Example.com", "[::1]:8080"} {
		b.Run(h, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := NormalizeHost(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
