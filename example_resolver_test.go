package tenancy_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/go-tenancy/tenancy"
)

// Clients that send a "tenant" header name their tenant's schema; browsers that
// come to the tenant's own host name it by host.
func ExampleFirstOf() {
	res := tenancy.FirstOf(
		tenancy.HeaderResolver{}, // "Tenant: <schema>"
		tenancy.HostResolver{},   // the Host header
	)

	api := httptest.NewRequest("GET", "http://api.example.com/users/", nil)
	api.Header.Set("tenant", "acme")
	browser := httptest.NewRequest("GET", "http://Shop.Acme.COM:8443/users/", nil)
	spoof := httptest.NewRequest("GET", "http://shop.acme.com/users/", nil)
	spoof.Header.Set("tenant", `acme"; drop schema shared cascade; --`)

	k, err := res.ResolveTenant(api)
	fmt.Println(k, err)
	k, err = res.ResolveTenant(browser)
	fmt.Println(k, err)
	_, err = res.ResolveTenant(spoof)
	fmt.Println(errors.Is(err, tenancy.ErrMalformedRequest))
	// Output:
	// schema:acme <nil>
	// host:shop.acme.com <nil>
	// true
}

func ExampleHeaderResolver() {
	res := tenancy.HeaderResolver{Name: "X-Tenant-Name", By: tenancy.ByName}

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Tenant-Name", "Acme Corp")
	k, err := res.ResolveTenant(r)
	fmt.Println(k, err)

	r.Header.Add("X-Tenant-Name", "Other Corp")
	_, err = res.ResolveTenant(r)
	fmt.Println(err)
	// Output:
	// name:Acme Corp <nil>
	// tenancy: malformed tenant in request: header "X-Tenant-Name" is repeated with different values
}

// Behind a reverse proxy, X-Forwarded-Host is believed only from the proxy's own
// address.
func ExampleHostResolver() {
	res := tenancy.HostResolver{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}

	r := httptest.NewRequest("GET", "http://backend:8080/", nil)
	r.Header.Set("X-Forwarded-Host", "acme.example.com")

	r.RemoteAddr = "10.0.0.7:41000" // the proxy
	k, _ := res.ResolveTenant(r)
	fmt.Println(k)

	r.RemoteAddr = "203.0.113.9:41000" // a client talking to us directly
	k, _ = res.ResolveTenant(r)
	fmt.Println(k)
	// Output:
	// host:acme.example.com
	// host:backend
}

func ExampleSubdomainResolver() {
	res := tenancy.SubdomainResolver{Domain: "example.com", Exclude: []string{"www"}}
	for _, host := range []string{"acme.example.com", "ACME.example.com.:443", "www.example.com", "example.com", "a.b.example.com", "acme-corp.example.com"} {
		k, err := res.ResolveTenant(httptest.NewRequest("GET", "http://"+host+"/", nil))
		switch {
		case errors.Is(err, tenancy.ErrUnknownTenant):
			fmt.Printf("%s: unknown tenant\n", host)
		case err != nil:
			fmt.Printf("%s: %v\n", host, err)
		case k.IsZero():
			fmt.Printf("%s: no tenant\n", host)
		default:
			fmt.Printf("%s: %v\n", host, k)
		}
	}
	// Output:
	// acme.example.com: schema:acme
	// ACME.example.com.:443: schema:acme
	// www.example.com: no tenant
	// example.com: no tenant
	// a.b.example.com: no tenant
	// acme-corp.example.com: unknown tenant
}

func ExamplePathResolver() {
	res := tenancy.PathResolver{}
	k, _ := res.ResolveTenant(httptest.NewRequest("GET", "/acme/users/?page=2", nil))
	fmt.Printf("%v, strip %q\n", k, k.StripPrefix)

	_, err := res.ResolveTenant(httptest.NewRequest("GET", "/%2e%2e/users/", nil))
	fmt.Println(err)
	// Output:
	// schema:acme, strip "/acme"
	// tenancy: malformed tenant in request: first path segment "..": it is a dot segment
}

// AllAgree requires every resolver that answers to name the same tenant. Keys of
// different kinds are checked when the Middleware looks them up.
func ExampleAllAgree() {
	res := tenancy.AllAgree(tenancy.HeaderResolver{}, tenancy.PathResolver{}, tenancy.HostResolver{})

	r := httptest.NewRequest("GET", "http://acme.example.com/acme/users/", nil)
	r.Header.Set("Tenant", "acme")
	k, err := res.ResolveTenant(r)
	fmt.Println(k, err)

	r = httptest.NewRequest("GET", "http://acme.example.com/other/users/", nil)
	r.Header.Set("Tenant", "acme")
	_, err = res.ResolveTenant(r)
	fmt.Println(err)
	// Output:
	// schema:acme&host:acme.example.com <nil>
	// tenancy: tenants do not agree: schema "acme" and "other"
}

func ExampleNormalizeHost() {
	for _, h := range []string{"Acme.Example.COM.:8443", "[0:0::1]:8080", "xn--bcher-kva.example", "bücher.example"} {
		host, err := tenancy.NormalizeHost(h)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(host)
	}
	// Output:
	// acme.example.com
	// ::1
	// xn--bcher-kva.example
	// tenancy: invalid host "bücher.example": it is not ASCII (send internationalised names in their "xn--" form)
}
