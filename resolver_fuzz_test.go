package tenancy

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The seed corpora live in testdata/fuzz/<FuzzName>; the f.Add calls below add the
// most important seeds again so that they are visible next to the properties.

// maxErrLen bounds every error message: a hostile value is never echoed in full.
// clip keeps 64 bytes of a value, which %q may spell with up to 256 characters;
// the header resolver's messages quote a (configured) name and a value.
const maxErrLen = 700

func checkErrLen(t *testing.T, err error) {
	t.Helper()
	if err != nil && len(err.Error()) > maxErrLen {
		t.Fatalf("error message is %d bytes: %.120q...", len(err.Error()), err.Error())
	}
}

// checkKey checks the invariants every key returned by a built-in resolver keeps.
func checkKey(t *testing.T, k Key) {
	t.Helper()
	if k.IsZero() {
		if !reflect.DeepEqual(k, Key{}) {
			t.Fatalf("zero key with leftovers: %#v", k)
		}
		return
	}
	switch k.By {
	case BySchema:
		if err := ValidateSchemaName(k.Value); err != nil {
			t.Fatalf("BySchema key with invalid schema %q: %v", k.Value, err)
		}
	case ByHost:
		if h, err := NormalizeHost(k.Value); err != nil || h != k.Value {
			t.Fatalf("ByHost key %q is not normalised: %q, %v", k.Value, h, err)
		}
	case ByName:
		if k.Value == "" || !utf8.ValidString(k.Value) || len(k.Value) > DefaultMaxKeyLen {
			t.Fatalf("ByName key %q is empty, too long or not UTF-8", k.Value)
		}
		for _, r := range k.Value {
			if !unicode.IsPrint(r) {
				t.Fatalf("ByName key %q has non-printable %U", k.Value, r)
			}
		}
	default:
		t.Fatalf("key with invalid By: %#v", k)
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{
		"acme.example.com", "Acme.Example.COM.:8443", "[::1]:8080", "::1", "[::ffff:1.2.3.4]",
		"xn--bcher-kva.de", "bücher.de", "аcme.com", "a..b", "example.com:", "[fe80::1%25eth0]:80",
		"acme\x00.com", "-a.com", strings.Repeat("a", 64) + ".com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeHost(in)
		checkErrLen(t, err)
		if err != nil {
			var he *HostError
			if !errors.As(err, &he) || out != "" {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want \"\" and a *HostError", in, out, err)
			}
			return
		}
		if out == "" || len(out) > maxHostLen {
			t.Fatalf("NormalizeHost(%q) = %q: empty or too long", in, out)
		}
		if again, err := NormalizeHost(out); err != nil || again != out {
			t.Fatalf("NormalizeHost(%q) = %q, but NormalizeHost(%q) = %q, %v", in, out, out, again, err)
		}
		if strings.HasSuffix(out, ".") {
			t.Fatalf("NormalizeHost(%q) = %q: trailing dot", in, out)
		}
		if strings.Contains(out, ":") {
			// Only an IPv6 literal keeps colons, in canonical form, never a port.
			a, err := netip.ParseAddr(out)
			if err != nil || !a.Is6() || a.Zone() != "" || a.String() != out {
				t.Fatalf("NormalizeHost(%q) = %q: not a canonical IPv6 address", in, out)
			}
			return
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
				t.Fatalf("NormalizeHost(%q) = %q: contains %q", in, out, c)
			}
		}
		for _, label := range strings.Split(out, ".") {
			if label == "" || len(label) > maxLabelLen || label[0] == '-' || label[len(label)-1] == '-' {
				t.Fatalf("NormalizeHost(%q) = %q: bad label %q", in, out, label)
			}
		}
		// The input differed from the output only in case, port and one dot.
		if !strings.HasPrefix(strings.ToLower(in), out) && !strings.HasPrefix(in, "[") {
			t.Fatalf("NormalizeHost(%q) = %q: not a prefix of the lower-cased input", in, out)
		}
	})
}

func FuzzHeaderResolver(f *testing.F) {
	f.Add("acme", "", uint8(0), "")
	f.Add(" acme\t", "acme", uint8(BySchema), "X-Tenant-Id")
	f.Add("acme", "other", uint8(0), "")
	f.Add(`a"; drop schema shared cascade; --`, "", uint8(0), "")
	f.Add("a,public", "", uint8(BySchema), "tenant")
	f.Add("Acme.Example.com:443", "", uint8(ByHost), "")
	f.Add("Acme Corp", "", uint8(ByName), "")
	f.Add("Acme\u202eCorp", "", uint8(ByName), "")
	f.Add(strings.Repeat("a", 300), "", uint8(ByName), "")
	f.Fuzz(func(t *testing.T, v1, v2 string, by uint8, name string) {
		res := HeaderResolver{Name: name, By: By(by % 4)}
		r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/"}}
		key := DefaultTenantHeader
		if name != "" {
			key = http.CanonicalHeaderKey(name)
		}
		r.Header[key] = []string{v1}
		if v2 != "" {
			r.Header[key] = append(r.Header[key], v2)
		}
		k, err := res.ResolveTenant(r)
		checkErrLen(t, err)
		if err != nil {
			if !k.IsZero() {
				t.Fatalf("key %#v with error %v", k, err)
			}
			if !errors.Is(err, ErrMalformedRequest) && res.validate() == nil {
				t.Fatalf("a valid resolver returned %v, not wrapping ErrMalformedRequest", err)
			}
			return
		}
		checkKey(t, k)
		if k.IsZero() || k.StripPrefix != "" {
			t.Fatalf("header present but got %#v", k)
		}
		if want := By(by % 4); want != 0 && k.By != want || want == 0 && k.By != BySchema {
			t.Fatalf("By %v, got key %#v", want, k)
		}
		if v2 != "" && strings.Trim(v1, " \t\r\n") != strings.Trim(v2, " \t\r\n") {
			t.Fatalf("different values %q and %q accepted", v1, v2)
		}
		if k.By != ByHost && !strings.Contains(v1, k.Value) {
			t.Fatalf("value %q is not part of the header %q", k.Value, v1)
		}
	})
}

func FuzzPathResolver(f *testing.F) {
	for _, p := range []string{
		"/acme/users/", "/acme", "/", "*", "//acme", "/../x", "/%2e%2e/x", "/acme%2Fother/x",
		"/%61cme/", "/Acme%20Corp/x", "/a%00b", "/acme.example.com/x", "/acme;x=1/",
	} {
		for by := range uint8(4) {
			f.Add(p, by)
		}
	}
	f.Fuzz(func(t *testing.T, target string, by uint8) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		res := PathResolver{By: By(by % 4)}
		k, err := res.ResolveTenant(&http.Request{URL: u, Header: http.Header{}})
		checkErrLen(t, err)
		if err != nil {
			if !errors.Is(err, ErrMalformedRequest) || !k.IsZero() {
				t.Fatalf("%q: got %#v, %v", target, k, err)
			}
			return
		}
		checkKey(t, k)
		if k.IsZero() {
			if u.Path != "" && u.Path != "/" && u.Path != "*" {
				t.Fatalf("%q: zero key for path %q", target, u.Path)
			}
			return
		}
		if k.StripPrefix != "/"+k.Value {
			t.Fatalf("%q: StripPrefix %q for value %q", target, k.StripPrefix, k.Value)
		}
		if k.Value == "." || k.Value == ".." || strings.ContainsAny(k.Value, "/\\%") && k.By != ByName {
			t.Fatalf("%q: value %q", target, k.Value)
		}
		if strings.Contains(k.Value, "/") {
			t.Fatalf("%q: value %q contains /", target, k.Value)
		}
		// The prefix ends at a segment boundary of both the path and the raw
		// path, so the middleware can strip it from both.
		for i, p := range []string{u.Path, u.RawPath} {
			if i == 1 && p == "" {
				continue // no raw path: the path has its default encoding
			}
			rest, ok := strings.CutPrefix(p, k.StripPrefix)
			if !ok || rest != "" && rest[0] != '/' {
				t.Fatalf("%q: prefix %q is not a segment of %q", target, k.StripPrefix, p)
			}
		}
	})
}

func FuzzSubdomainResolver(f *testing.F) {
	for _, h := range []string{
		"acme.example.com", "ACME.example.com.:443", "example.com", "a.b.example.com", "notexample.com",
		"acme-corp.example.com", "www.example.com", "[::1]:80", "acme.example.com.evil.org", "public.example.com",
	} {
		f.Add(h, "example.com", uint8(0))
	}
	f.Add("acme.apps.example.com", "Apps.Example.com.", uint8(ByName))
	f.Fuzz(func(t *testing.T, host, domain string, by uint8) {
		res := SubdomainResolver{Domain: domain, By: By(by % 4), Exclude: []string{"www"}}
		r := &http.Request{Host: host, Header: http.Header{}, URL: &url.URL{Path: "/"}}
		k, err := res.ResolveTenant(r)
		checkErrLen(t, err)
		if err != nil {
			if !k.IsZero() {
				t.Fatalf("key %#v with error %v", k, err)
			}
			if res.validate() == nil && !errors.Is(err, ErrMalformedRequest) && !errors.Is(err, ErrUnknownTenant) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkKey(t, k)
		if k.IsZero() {
			return
		}
		h, _ := NormalizeHost(host)
		d, _ := NormalizeHost(domain)
		if h != k.Value+"."+d || k.Value == "www" || strings.Contains(k.Value, ".") {
			t.Fatalf("host %q, domain %q: got %#v", host, domain, k)
		}
	})
}

// schemaNameRE is an independent statement of the shape rules of
// ValidateSchemaName, for a differential check.
var schemaNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func FuzzValidateSchemaName(f *testing.F) {
	for _, s := range []string{
		"acme", "_x", "a1", "1a", "ACME", "public", "information_schema", "pg_catalog", "pg", "shared",
		`a"; drop schema shared cascade; --`, "a,public", "a\x00", "a\n", "аcme", "acmeı", "",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateSchemaName(name, DefaultSharedSchema)
		want := schemaNameRE.MatchString(name) && !strings.HasPrefix(name, "pg_") &&
			name != "public" && name != "information_schema" && name != DefaultSharedSchema
		if (err == nil) != want {
			t.Fatalf("ValidateSchemaName(%q) = %v, but the rules say valid=%v", name, err, want)
		}
		if err != nil {
			var se *SchemaNameError
			if !errors.Is(err, ErrInvalidSchemaName) || !errors.As(err, &se) || se.Reason == "" {
				t.Fatalf("ValidateSchemaName(%q) = %v: not a *SchemaNameError", name, err)
			}
			return
		}
		// A valid name is safe to quote as an identifier without escaping, and
		// PostgreSQL's case folding leaves it unchanged.
		if strings.ContainsAny(name, "\"'\\;, \x00") || strings.ToLower(name) != name {
			t.Fatalf("ValidateSchemaName accepted %q", name)
		}
		// And the header resolver accepts it as it is.
		r := &http.Request{Header: http.Header{DefaultTenantHeader: {name}}}
		if k, err := (HeaderResolver{}).ResolveTenant(r); err != nil || k.Value != name {
			t.Fatalf("HeaderResolver rejected valid schema %q: %v", name, err)
		}
	})
}
