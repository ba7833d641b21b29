package tenancy

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TenantResolver finds the tenant a request names.
//
// Implementations must be safe for concurrent use and must not modify the request.
// The built-in resolvers ([HeaderResolver], [HostResolver], [SubdomainResolver],
// [PathResolver]) are plain values: they are safe for concurrent use as long as
// their fields (including the TrustedProxies slices) are not changed while they
// are in use. Combine them with [FirstOf] and [AllAgree].
//
// A request header is spoofable: resolve the tenant before session or
// authentication middleware, and let an authorisation hook confirm that the
// authenticated principal may act for the tenant.
type TenantResolver interface {
	// ResolveTenant returns the Key the request names, the zero Key if it names
	// none this resolver understands ("none here"), or an error wrapping
	// ErrMalformedRequest if it names one in a malformed way.
	//
	// Other errors are possible: [SubdomainResolver] returns one wrapping
	// [ErrUnknownTenant] for a subdomain that cannot name a tenant, [AllAgree] one
	// wrapping [ErrTenantMismatch], and a misconfigured built-in resolver an
	// error that wraps none of the sentinels (a server-side fault).
	ResolveTenant(r *http.Request) (Key, error)
}

// ResolverFunc adapts a plain function to a [TenantResolver], the way
// [http.HandlerFunc] adapts one to an [http.Handler].
type ResolverFunc func(r *http.Request) (Key, error)

// ResolveTenant calls f(r).
func (f ResolverFunc) ResolveTenant(r *http.Request) (Key, error) { return f(r) }

// Compile-time checks that the built-in resolvers implement the interface.
var (
	_ TenantResolver = ResolverFunc(nil)
	_ TenantResolver = HeaderResolver{}
	_ TenantResolver = HostResolver{}
	_ TenantResolver = SubdomainResolver{}
	_ TenantResolver = PathResolver{}
	_ TenantResolver = firstOf(nil)
	_ TenantResolver = allAgree(nil)
)

const (
	// DefaultTenantHeader is the header [HeaderResolver] reads when its Name is
	// empty. The clients of the original application send "tenant: <schema>".
	DefaultTenantHeader = "Tenant"

	// DefaultMaxKeyLen is the longest value, in bytes, that [HeaderResolver] and
	// [PathResolver] accept unless their MaxLen says otherwise. Schema names are
	// limited further, to [MaxSchemaNameLen], and hosts to 253 bytes.
	DefaultMaxKeyLen = 255

	// maxHostLen is the longest DNS name (without the trailing dot).
	maxHostLen = 253
	// maxLabelLen is the longest DNS label.
	maxLabelLen = 63
	// maxClip is how much of a rejected value an error message repeats.
	maxClip = 64

	headerXForwardedHost = "X-Forwarded-Host" // canonical form
)

// HostError reports why [NormalizeHost] rejected a host. The resolvers wrap it in an
// error that also wraps [ErrMalformedRequest], so both [errors.Is] and
// [errors.As] work on what they return.
type HostError struct {
	Host   string // the rejected host, shortened to at most 64 bytes (and "...")
	Reason string // which rule it broke
}

func (e *HostError) Error() string {
	return fmt.Sprintf("tenancy: invalid host %q: %s", e.Host, e.Reason)
}

// Unwrap returns [ErrInvalidHost].
func (e *HostError) Unwrap() error { return ErrInvalidHost }

func hostError(h, reason string) error { return &HostError{Host: clip(h), Reason: reason} }

// NormalizeHost returns the canonical form of a host as found in a Host or
// X-Forwarded-Host header or stored in [Tenant].Host:
//
//   - a port is removed ("example.com:8080" becomes "example.com");
//   - ASCII letters are lower-cased;
//   - one trailing dot is dropped ("example.com." becomes "example.com");
//   - an IPv6 literal loses its brackets and is written in its canonical form
//     ("[0:0::1]:8080" becomes "::1"); IPv4 addresses are kept as written.
//
// It returns a *[HostError] if the host is empty, longer than 253 bytes, has a
// label that is empty, longer than 63 bytes or starts or ends with '-', contains
// a character other than a-z, A-Z, 0-9, '-' and '.', has a port that is not at
// most five digits, or is a malformed or zoned IPv6 literal or an IPv4 address
// in brackets. Internationalised names must be given in their ASCII (punycode,
// "xn--") form, as clients send them; the Unicode form is rejected rather than
// converted, so that every name has exactly one accepted spelling.
//
// The result is idempotent (normalising it again returns it unchanged). No memory
// is allocated unless the host has upper-case letters or is a non-canonical IPv6
// literal. NormalizeHost is safe for concurrent use.
func NormalizeHost(h string) (string, error) {
	if h == "" {
		return "", hostError(h, "it is empty")
	}
	// Longest acceptable input: a 253-byte name, its trailing dot and ":65535".
	if len(h) > maxHostLen+1+6 {
		return "", hostError(h, "it is longer than 253 bytes")
	}
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", hostError(h, `it has "[" without "]"`)
		}
		if !validPort(h[end+1:]) {
			return "", hostError(h, "it has an invalid port")
		}
		return normalizeIPv6(h, h[1:end])
	}
	host := h
	switch strings.Count(h, ":") {
	case 0:
	case 1:
		i := strings.IndexByte(h, ':')
		if !validPort(h[i:]) {
			return "", hostError(h, "it has an invalid port")
		}
		host = h[:i]
	default:
		// Several colons: only a bare IPv6 literal (NormalizeHost's own output
		// for one) is acceptable; a port would be ambiguous without brackets.
		return normalizeIPv6(h, h)
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return "", hostError(h, "it has no name")
	}
	if len(host) > maxHostLen {
		return "", hostError(h, "it is longer than 253 bytes")
	}
	upper := false
	label := 0 // start of the current label
	for i := 0; i <= len(host); i++ {
		if i == len(host) || host[i] == '.' {
			switch n := i - label; {
			case n == 0:
				return "", hostError(h, "it has an empty label")
			case n > maxLabelLen:
				return "", hostError(h, "it has a label longer than 63 bytes")
			case host[label] == '-' || host[i-1] == '-':
				return "", hostError(h, `it has a label that starts or ends with "-"`)
			}
			label = i + 1
			continue
		}
		switch c := host[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
		case 'A' <= c && c <= 'Z':
			upper = true
		case c >= utf8.RuneSelf:
			return "", hostError(h, `it is not ASCII (send internationalised names in their "xn--" form)`)
		default:
			return "", hostError(h, fmt.Sprintf("it contains %q (only a-z, 0-9, - and . are allowed)", c))
		}
	}
	if upper {
		host = strings.ToLower(host) // ASCII only: one allocation
	}
	return host, nil
}

// validPort reports whether p is "" or ":" followed by at most five digits (an
// empty port, "example.com:", is valid in a URL).
func validPort(p string) bool {
	if p == "" {
		return true
	}
	if p[0] != ':' || len(p) > 6 {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// normalizeIPv6 returns the canonical form of the IPv6 literal lit (found in h).
func normalizeIPv6(h, lit string) (string, error) {
	a, err := netip.ParseAddr(lit)
	switch {
	case err != nil && lit == h:
		return "", hostError(h, `it has several ":" but is not an IPv6 address`)
	case err != nil:
		return "", hostError(h, "it is not a valid IPv6 address")
	case !a.Is6():
		return "", hostError(h, "it has an IPv4 address in brackets")
	case a.Zone() != "":
		return "", hostError(h, "it has an IPv6 zone")
	}
	// Compare in a stack buffer: no allocation when lit is already canonical.
	var buf [64]byte
	b := a.AppendTo(buf[:0])
	if string(b) == lit {
		return lit, nil
	}
	return string(b), nil
}

// HeaderResolver reads the tenant from a request header. The zero value reads the
// "Tenant" header as a schema name, which is what the clients of the original
// application send ("tenant: acme").
//
// A request without the header names no tenant here (the zero [Key]). The
// resolver returns an error wrapping [ErrMalformedRequest] if the header is
// present but empty or blank, is longer than MaxLen, appears several times with
// different values, or its value does not have the shape By requires:
//
//   - [BySchema]: a valid schema name (see [ValidateSchemaName]), used as sent:
//     "ACME" is rejected, not folded to "acme";
//   - [ByHost]: a host, normalised with [NormalizeHost];
//   - [ByName]: printable UTF-8 (letters, marks, numbers, punctuation, symbols
//     and the ASCII space; no control or invisible formatting characters).
//
// Blanks (spaces, tabs) around the value are removed. Error messages quote at
// most 64 bytes of the value.
//
// A resolved header value is only what the client claims: pair this resolver with
// an authorisation check (see [TenantResolver]).
//
// The common case, a valid value under a canonically written Name (as
// "X-Tenant-Id", not "x-tenant-id"), allocates no memory.
type HeaderResolver struct {
	// Name is the header to read, matched case-insensitively. "" means
	// [DefaultTenantHeader] ("Tenant").
	Name string
	// By is the kind of key the header holds. 0 means [BySchema].
	By By
	// MaxLen is the longest value accepted, in bytes. 0 means
	// [DefaultMaxKeyLen] (255). Schema names are never longer than 63 bytes.
	MaxLen int
}

// ResolveTenant implements [TenantResolver].
func (h HeaderResolver) ResolveTenant(r *http.Request) (Key, error) {
	name := DefaultTenantHeader
	if h.Name != "" {
		// No allocation when h.Name is already canonical.
		name = textproto.CanonicalMIMEHeaderKey(h.Name)
	}
	by, maxLen, err := h.config()
	if err != nil {
		return Key{}, err
	}
	vals := r.Header[name]
	if len(vals) == 0 {
		return Key{}, nil
	}
	v := textproto.TrimString(vals[0])
	for _, other := range vals[1:] {
		if textproto.TrimString(other) != v {
			return Key{}, fmt.Errorf("%w: header %q is repeated with different values", ErrMalformedRequest, clip(name))
		}
	}
	v, reason := checkValue(by, v, maxLen)
	if reason != "" {
		return Key{}, fmt.Errorf("%w: header %q value %q: %s", ErrMalformedRequest, clip(name), clip(v), reason)
	}
	return Key{By: by, Value: v}, nil
}

func (h HeaderResolver) config() (By, int, error) {
	by, err := resolverBy("HeaderResolver", h.By, true)
	if err != nil {
		return 0, 0, err
	}
	maxLen, err := resolverMaxLen("HeaderResolver", h.MaxLen)
	return by, maxLen, err
}

func (h HeaderResolver) validate() error {
	if h.Name != "" && !validHeaderName(h.Name) {
		return fmt.Errorf("tenancy: HeaderResolver.Name: %q is not a valid header name", h.Name)
	}
	_, _, err := h.config()
	return err
}

// HostResolver resolves the tenant from the request's host: r.Host, normalised
// with [NormalizeHost], is returned as a [ByHost] key. The zero value is ready to
// use and ignores X-Forwarded-Host.
//
// A request with an empty r.Host names no tenant here (the zero [Key]); a host
// that [NormalizeHost] rejects is an error wrapping both [ErrMalformedRequest] and
// the *[HostError].
//
// # Behind a reverse proxy
//
// X-Forwarded-Host is believed only when the request comes directly from one of
// TrustedProxies (r.RemoteAddr is in one of the prefixes; a RemoteAddr that does
// not parse as "ip:port" or "ip" is never trusted). Otherwise the header is
// ignored, so a client cannot pick a tenant by sending it. The trusted proxy must
// set or overwrite X-Forwarded-Host; one that passes a client's header through
// unchanged makes it spoofable again.
//
// If X-Forwarded-Host holds several hosts (the header is repeated or holds a
// comma-separated list), the last one is used: it is the one added by the proxy
// that connected to us, the only one whose origin r.RemoteAddr vouches for;
// everything to its left may come from the client. In a chain of proxies,
// configure the outermost one to overwrite the header and the inner ones to pass
// it on unchanged. The RFC 7239 Forwarded header is not read.
//
// The common case (a lower-case host, with or without a port) allocates no memory.
type HostResolver struct {
	// TrustedProxies lists the networks of the reverse proxies whose
	// X-Forwarded-Host header is believed. Empty (the default) means none is.
	// IPv4-mapped IPv6 remote addresses ("::ffff:10.0.0.1") match IPv4
	// prefixes.
	TrustedProxies []netip.Prefix
}

// ResolveTenant implements [TenantResolver].
func (h HostResolver) ResolveTenant(r *http.Request) (Key, error) {
	host, err := requestHost(r, h.TrustedProxies)
	if err != nil || host == "" {
		return Key{}, err
	}
	return Key{By: ByHost, Value: host}, nil
}

func (h HostResolver) validate() error {
	return validatePrefixes("HostResolver", h.TrustedProxies)
}

// requestHost returns the normalised host a request was sent to: X-Forwarded-Host
// when the request comes from a trusted proxy and has one, r.Host otherwise. It
// returns "" if r.Host is empty.
func requestHost(r *http.Request, trusted []netip.Prefix) (string, error) {
	raw, source := r.Host, "host"
	if len(trusted) > 0 {
		if vals := r.Header[headerXForwardedHost]; len(vals) > 0 && trustedRemote(r.RemoteAddr, trusted) {
			// The last value is the one the nearest (trusted) proxy added.
			raw, source = vals[len(vals)-1], "X-Forwarded-Host"
			if i := strings.LastIndexByte(raw, ','); i >= 0 {
				raw = raw[i+1:]
			}
			raw = textproto.TrimString(raw)
			if raw == "" {
				return "", fmt.Errorf("%w: X-Forwarded-Host from a trusted proxy is empty", ErrMalformedRequest)
			}
		}
	}
	if raw == "" {
		return "", nil
	}
	host, err := NormalizeHost(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrMalformedRequest, source, err)
	}
	return host, nil
}

// trustedRemote reports whether remoteAddr ("ip:port", "[ip6]:port" or a bare IP)
// is inside one of the prefixes. Anything else (a Unix socket path, "") is not.
func trustedRemote(remoteAddr string, trusted []netip.Prefix) bool {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remoteAddr); err != nil {
		return false
	}
	// A zoned address never matches a prefix; the zone says nothing about trust.
	a = a.WithZone("")
	unmapped := a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) || p.Contains(unmapped) {
			return true
		}
	}
	return false
}

func validatePrefixes(typ string, ps []netip.Prefix) error {
	for i, p := range ps {
		if !p.IsValid() {
			return fmt.Errorf("tenancy: %s.TrustedProxies[%d] is not a valid prefix", typ, i)
		}
	}
	return nil
}

// SubdomainResolver resolves the tenant from the first label of the request's host
// below Domain: with Domain "example.com", "acme.example.com" names the tenant
// whose schema (by default) is "acme". Hosts are normalised with [NormalizeHost]
// first, so "ACME.Example.com.:443" works too. Domain is required.
//
// The request names no tenant here (the zero [Key]) when its host is empty, is
// Domain itself, lies outside Domain, is one of Exclude ("www.example.com"), or is
// nested more than one level below Domain ("a.b.example.com": such hosts are left
// to other resolvers and other services rather than guessed at).
//
// A malformed host is an error wrapping [ErrMalformedRequest]. With By
// [BySchema], a label that cannot be a schema name ("acme-corp", "1st", "public")
// is answered with a *[TenantError] wrapping [ErrUnknownTenant]: the hostname is
// well-formed, it just cannot belong to a tenant, and the client learns nothing
// from a difference between "invalid" and "not registered". Note that a schema
// whose name contains "_" cannot be reached this way, since host names cannot
// contain "_"; use [ByName] and tenant names without "_" for such tenants.
//
// X-Forwarded-Host is handled as by [HostResolver], through TrustedProxies.
//
// The common case allocates no memory, provided Domain is written in normalised
// form (lower case, no trailing dot).
type SubdomainResolver struct {
	// Domain is the base domain, such as "example.com". It is normalised with
	// [NormalizeHost]; an empty or invalid Domain makes ResolveTenant fail with a
	// configuration error.
	Domain string
	// By is the kind of key the subdomain label names: [BySchema] (0 means
	// BySchema) or [ByName]. [ByHost] is a configuration error: use
	// [HostResolver] to match whole hosts.
	By By
	// Exclude lists labels (such as "www", "api") that name no tenant: hosts
	// below Domain with these labels give the zero Key. They are compared
	// case-insensitively.
	Exclude []string
	// TrustedProxies lists the networks of the reverse proxies whose
	// X-Forwarded-Host header is believed, as in [HostResolver]. Empty (the
	// default) means none is.
	TrustedProxies []netip.Prefix
}

// ResolveTenant implements [TenantResolver].
func (s SubdomainResolver) ResolveTenant(r *http.Request) (Key, error) {
	domain, by, err := s.config()
	if err != nil {
		return Key{}, err
	}
	host, err := requestHost(r, s.TrustedProxies)
	if err != nil || host == "" {
		return Key{}, err
	}
	if len(host) <= len(domain)+1 || !strings.HasSuffix(host, domain) || host[len(host)-len(domain)-1] != '.' {
		return Key{}, nil // Domain itself, or outside it
	}
	label := host[:len(host)-len(domain)-1]
	if strings.IndexByte(label, '.') >= 0 {
		return Key{}, nil // nested: a.b.example.com
	}
	for _, x := range s.Exclude {
		if strings.EqualFold(x, label) {
			return Key{}, nil
		}
	}
	if by == BySchema {
		// Not an error about the request's shape: the host is fine, it
		// just cannot belong to a tenant. Never pass it on as a schema name.
		if schemaNameProblem(label) != "" {
			return Key{}, &TenantError{Op: "resolve subdomain", Key: label, Err: ErrUnknownTenant}
		}
	}
	// ByName: label is printable ASCII already (NormalizeHost checked it).
	return Key{By: by, Value: label}, nil
}

func (s SubdomainResolver) config() (domain string, by By, err error) {
	if s.Domain == "" {
		return "", 0, errors.New("tenancy: SubdomainResolver.Domain is empty")
	}
	domain, err = NormalizeHost(s.Domain)
	if err != nil {
		return "", 0, fmt.Errorf("tenancy: SubdomainResolver.Domain: %w", err)
	}
	if strings.IndexByte(domain, ':') >= 0 {
		return "", 0, fmt.Errorf("tenancy: SubdomainResolver.Domain %q is an IP address", domain)
	}
	by, err = resolverBy("SubdomainResolver", s.By, false)
	return domain, by, err
}

func (s SubdomainResolver) validate() error {
	if _, _, err := s.config(); err != nil {
		return err
	}
	return validatePrefixes("SubdomainResolver", s.TrustedProxies)
}

// PathResolver resolves the tenant from the first segment of the request's URL
// path: "/acme/users/" names the tenant whose schema (by default) is "acme", and
// the returned [Key] has StripPrefix "/acme", which the [Middleware] removes, so
// that handlers see "/users/". The zero value is ready to use.
//
// A path that is empty, "/" or "*" names no tenant here (the zero [Key]). The
// resolver returns an error wrapping [ErrMalformedRequest] when the first segment
// is empty ("//acme"), is "." or "..", is longer than MaxLen, does not have the
// shape By requires (see [HeaderResolver]; [ByHost] segments must already be in
// normalised form), or is percent-encoded in the raw path ("/%61cme/",
// "/acme%2Fx/"). The last rule means the tenant segment is the same in
// r.URL.Path and r.URL.RawPath, so StripPrefix is a prefix of both and no encoded
// "/" or "." can change which segment names the tenant.
//
// Prefix moves the tenant segment down the path, for an application whose
// tenant-scoped routes live under a mount point such as "/api" (chi's
// Route("/api", ...), an echo Group, a gorilla PathPrefix): with Prefix "/api",
// "/api/acme/users" names acme and handlers see "/api/users" (the prefix stays,
// the tenant segment goes: [Key].KeepPrefix). A path outside the prefix names no
// tenant here.
//
// The valid case allocates no memory (the Middleware's path rewrite with a
// Prefix allocates the new path).
type PathResolver struct {
	// By is the kind of key the first segment holds. 0 means [BySchema].
	By By
	// MaxLen is the longest segment accepted, in bytes. 0 means
	// [DefaultMaxKeyLen] (255).
	MaxLen int
	// Prefix is the path the tenant segment follows: "" (the default) for the
	// URL root, else an absolute path without a trailing "/", such as "/api" or
	// "/api/v1", matched at a segment boundary ("/apix/acme" is not under
	// "/api"). [Middleware] panics on any other value.
	Prefix string
}

// ResolveTenant implements [TenantResolver].
func (p PathResolver) ResolveTenant(r *http.Request) (Key, error) {
	by, err := resolverBy("PathResolver", p.By, true)
	if err != nil {
		return Key{}, err
	}
	maxLen, err := resolverMaxLen("PathResolver", p.MaxLen)
	if err != nil {
		return Key{}, err
	}
	if r.URL == nil {
		return Key{}, nil
	}
	path, rawPath := r.URL.Path, r.URL.RawPath
	if p.Prefix != "" {
		rest, ok := trimRooted(path, p.Prefix)
		if !ok {
			return Key{}, nil // not under the prefix: no tenant here
		}
		if rawPath != "" {
			if rawPath, ok = trimRooted(rawPath, p.Prefix); !ok {
				return Key{}, fmt.Errorf("%w: path prefix %q is percent-encoded", ErrMalformedRequest, clip(p.Prefix))
			}
		}
		path = rest
	}
	switch {
	case path == "" || path == "/" || path == "*":
		return Key{}, nil
	case path[0] != '/':
		return Key{}, fmt.Errorf("%w: path %q is not absolute", ErrMalformedRequest, clip(path))
	}
	seg := path[1:]
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	prefix := path[:1+len(seg)]
	var reason string
	value := seg
	switch {
	case seg == "":
		reason = "it is empty"
	case seg == "." || seg == "..":
		reason = "it is a dot segment"
	case rawPrefixDiffers(rawPath, prefix):
		reason = "it is percent-encoded"
	default:
		value, reason = checkValue(by, seg, maxLen)
		if reason == "" && value != seg {
			// ByHost: a Value other than the segment would make Value and
			// StripPrefix disagree.
			reason = "it is not a normalised host"
		}
	}
	if reason != "" {
		return Key{}, fmt.Errorf("%w: first path segment %q: %s", ErrMalformedRequest, clip(seg), reason)
	}
	if p.Prefix != "" {
		return Key{By: by, Value: value, StripPrefix: p.Prefix + prefix, KeepPrefix: p.Prefix}, nil
	}
	return Key{By: by, Value: value, StripPrefix: prefix}, nil
}

// rawPrefixDiffers reports whether the raw (escaped) path rawPath, if set, does
// not start with the segment prefix as a whole segment: "/%61cme/x" or
// "/acme%2Fx" for the prefix "/acme" of the decoded path.
func rawPrefixDiffers(rawPath, prefix string) bool {
	if rawPath == "" {
		return false // the path has its default encoding, in which prefix is unescaped
	}
	return !strings.HasPrefix(rawPath, prefix) || len(rawPath) > len(prefix) && rawPath[len(prefix)] != '/'
}

func (p PathResolver) validate() error {
	if _, err := resolverBy("PathResolver", p.By, true); err != nil {
		return err
	}
	if pr := p.Prefix; pr != "" {
		if pr[0] != '/' || pr[len(pr)-1] == '/' || strings.Contains(pr, "//") {
			return fmt.Errorf("tenancy: PathResolver.Prefix %q must be an absolute path without a trailing or doubled \"/\"", clip(pr))
		}
		for _, seg := range strings.Split(pr[1:], "/") {
			if seg == "." || seg == ".." {
				return fmt.Errorf("tenancy: PathResolver.Prefix %q has a dot segment", clip(pr))
			}
		}
	}
	_, err := resolverMaxLen("PathResolver", p.MaxLen)
	return err
}

// FirstOf returns a resolver that consults rs in order and returns the first
// non-zero [Key]. An error from a resolver consulted before one answers is
// returned at once: malformed input is never hidden by a later resolver's answer.
// If none answers, it returns the zero Key. FirstOf panics if one of rs is nil.
// The result is safe for concurrent use if rs are.
func FirstOf(rs ...TenantResolver) TenantResolver {
	return firstOf(copyResolvers("FirstOf", rs))
}

type firstOf []TenantResolver

func (f firstOf) ResolveTenant(r *http.Request) (Key, error) {
	for _, res := range f {
		k, err := res.ResolveTenant(r)
		if err != nil {
			return Key{}, err
		}
		if !k.IsZero() {
			return k, nil
		}
	}
	return Key{}, nil
}

func (f firstOf) validate() error { return validateAll("FirstOf", f) }

// AllAgree returns a resolver that consults every one of rs and requires the
// answers to name the same tenant. Resolvers that answer with the zero [Key] are
// ignored; the first error is returned at once. If none answers, the result is the
// zero Key; if the answers are all the same key (equal By and Value), it is that
// key.
//
// Otherwise the answers have different kinds (say a [BySchema] header and a
// [ByHost] host), which can be compared only once they are looked up: the result
// is a Key that carries all of them, which the [Middleware] (through the
// [Lookuper]) resolves to one tenant or rejects with [ErrTenantMismatch]. Its By
// and Value are zero and its StripPrefix (with its KeepPrefix) is the first one an
// answer had.
//
// Two answers of the same kind with different values cannot name the same tenant:
// AllAgree returns an error wrapping [ErrTenantMismatch] for them straight away.
//
// AllAgree panics if one of rs is nil. The result is safe for concurrent use if rs
// are.
func AllAgree(rs ...TenantResolver) TenantResolver {
	return allAgree(copyResolvers("AllAgree", rs))
}

type allAgree []TenantResolver

func (a allAgree) ResolveTenant(r *http.Request) (Key, error) {
	var (
		first Key   // the first answer, while it is the only distinct one
		keys  []Key // all distinct answers, once there are two
		strip string
		keep  string // the KeepPrefix that goes with strip
	)
	add := func(k Key) error {
		if strip == "" {
			strip, keep = k.StripPrefix, k.KeepPrefix
		}
		k.StripPrefix, k.KeepPrefix = "", ""
		if first.IsZero() {
			first = k
			return nil
		}
		if keys == nil {
			if err := agreeable(first, k); err != nil || first.By == k.By {
				return err // a mismatch, or the same key again
			}
			keys = append(make([]Key, 0, len(a)), first, k)
			return nil
		}
		for _, have := range keys {
			if err := agreeable(have, k); err != nil || have.By == k.By {
				return err
			}
		}
		keys = append(keys, k)
		return nil
	}
	for _, res := range a {
		k, err := res.ResolveTenant(r)
		if err != nil {
			return Key{}, err
		}
		if k.IsZero() {
			continue
		}
		if len(k.agree) > 0 { // a nested AllAgree: flatten it
			for _, sub := range k.agree {
				if err := add(sub); err != nil {
					return Key{}, err
				}
			}
			if strip == "" {
				strip, keep = k.StripPrefix, k.KeepPrefix
			}
			continue
		}
		if err := add(k); err != nil {
			return Key{}, err
		}
	}
	if keys == nil {
		first.StripPrefix, first.KeepPrefix = strip, keep
		return first, nil
	}
	return Key{StripPrefix: strip, KeepPrefix: keep, agree: keys}, nil
}

// agreeable returns an error wrapping ErrTenantMismatch if a and b are of the same
// kind but have different values.
func agreeable(a, b Key) error {
	if a.By == b.By && a.Value != b.Value {
		return fmt.Errorf("%w: %s %q and %q", ErrTenantMismatch, a.By, clip(a.Value), clip(b.Value))
	}
	return nil
}

func (a allAgree) validate() error { return validateAll("AllAgree", a) }

func copyResolvers(fn string, rs []TenantResolver) []TenantResolver {
	for i, r := range rs {
		if r == nil {
			panic(fmt.Sprintf("tenancy: %s: resolver %d is nil", fn, i))
		}
	}
	return append([]TenantResolver(nil), rs...)
}

func validateAll(fn string, rs []TenantResolver) error {
	for i, r := range rs {
		if err := validateResolver(r); err != nil {
			return fmt.Errorf("tenancy: %s: resolver %d: %w", fn, i, err)
		}
	}
	return nil
}

// validateResolver reports a configuration error in a built-in resolver (or a
// FirstOf/AllAgree chain of them) up front, rather than on every request. The
// Middleware calls it when it is built. Resolvers of other types are not checked.
func validateResolver(r TenantResolver) error {
	if r == nil {
		return errors.New("tenancy: resolver is nil")
	}
	if v, ok := r.(interface{ validate() error }); ok {
		return v.validate()
	}
	return nil
}

// resolverBy applies the By default and rejects values a resolver cannot use.
func resolverBy(typ string, by By, hostOK bool) (By, error) {
	switch by {
	case 0:
		return BySchema, nil
	case BySchema, ByName:
		return by, nil
	case ByHost:
		if hostOK {
			return by, nil
		}
	}
	return 0, fmt.Errorf("tenancy: %s.By: %s (%d) is not supported", typ, by, uint8(by))
}

func resolverMaxLen(typ string, n int) (int, error) {
	switch {
	case n == 0:
		return DefaultMaxKeyLen, nil
	case n < 0:
		return 0, fmt.Errorf("tenancy: %s.MaxLen is negative (%d)", typ, n)
	}
	return n, nil
}

// checkValue checks a non-empty, trimmed value as a key of kind by. It returns the
// value to use (normalised for ByHost) and, if it is unacceptable, why.
func checkValue(by By, v string, maxLen int) (string, string) {
	if v == "" {
		return v, "it is empty"
	}
	if len(v) > maxLen {
		return v, fmt.Sprintf("it is longer than %d bytes", maxLen)
	}
	switch by {
	case BySchema:
		return v, schemaNameProblem(v)
	case ByHost:
		h, err := NormalizeHost(v)
		if err != nil {
			var he *HostError
			if errors.As(err, &he) {
				return v, "not a valid host: " + he.Reason
			}
			return v, err.Error()
		}
		return h, ""
	default: // ByName
		return v, nameProblem(v)
	}
}

// nameProblem checks a tenant name as found in a request: printable UTF-8 without
// surrounding spaces.
func nameProblem(v string) string {
	if v[0] == ' ' || v[len(v)-1] == ' ' {
		return "it has leading or trailing spaces"
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return "it contains control characters"
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			return "it is not valid UTF-8"
		}
		if !unicode.IsPrint(r) {
			return "it contains non-printable characters"
		}
		i += size
	}
	return ""
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// clip shortens s to at most 64 bytes (and "...") for an error message: a client
// must not be able to make the server log or echo an arbitrarily long value. The
// callers quote the result with %q, which escapes control characters and invalid
// UTF-8 (so a clipped value takes at most 4*64 characters).
func clip(s string) string {
	if len(s) <= maxClip {
		return s
	}
	// Cut at a rune boundary if there is one nearby (invalid UTF-8 may have none).
	n := maxClip
	for i := n; i > maxClip-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			n = i
			break
		}
	}
	return s[:n] + "..."
}
