package main

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/go-tenancy/tenancy"
)

// banner is what the start-up message shows.
type banner struct {
	cfg            config
	addr           *net.TCPAddr
	db             *database
	token          string
	tokenGenerated bool
	tenants        []tenancy.Tenant // the first few
	tenantCount    int
	seeded         bool
}

// printBanner prints where everything is and ready-to-paste curl commands.
func printBanner(w io.Writer, b banner) {
	host := "127.0.0.1"
	if ip := b.addr.IP; ip != nil && !ip.IsUnspecified() {
		host = ip.String()
	}
	port := strconv.Itoa(b.addr.Port)
	base := "http://" + net.JoinHostPort(host, port)

	fmt.Fprintf(w, "\ntenancy demo is ready\n\n")
	fmt.Fprintf(w, "  API           %s\n", base)
	if b.db.embedded {
		fmt.Fprintf(w, "  PostgreSQL    %s  (embedded; data in %s, kept across restarts)\n", b.db.url, b.cfg.dataDir)
		fmt.Fprintf(w, "                psql '%s'\n", b.db.url)
	} else {
		fmt.Fprintf(w, "  PostgreSQL    %s  (DATABASE_URL)\n", b.db.url)
	}
	note := "(from ADMIN_TOKEN)"
	if b.tokenGenerated {
		note = "(generated; set ADMIN_TOKEN to choose one)"
	}
	fmt.Fprintf(w, "  Admin token   %s  %s\n", b.token, note)
	var names []string
	for _, t := range b.tenants {
		s := t.Schema
		if t.Host != "" {
			s += " (" + t.Host + ")"
		}
		names = append(names, s)
	}
	if more := b.tenantCount - len(b.tenants); more > 0 {
		names = append(names, fmt.Sprintf("and %d more", more))
	}
	state := "found in the database"
	if b.seeded {
		state = "created just now"
	}
	fmt.Fprintf(w, "  Tenants       %s  [%s]\n", strings.Join(names, ", "), state)

	cli := "go run ./examples/server"
	if b.cfg.databaseURL != "" {
		cli = "DATABASE_URL=... " + cli
	} else if b.cfg.dataDir != defaultDataDir() {
		cli += " -data-dir " + b.cfg.dataDir
	}
	auth := `-H "Authorization: Bearer $ADMIN_TOKEN"`
	fmt.Fprintf(w, `
Try (tenant by header, or by host: *.localhost resolves to 127.0.0.1 in curl):
  curl -s %[1]s/users/ -H 'tenant: acme'
  curl -s http://acme.localhost:%[2]s/users/
  curl -s %[1]s/users/1 -H 'tenant: globex'
  curl -s -X POST %[1]s/users/ -H 'tenant: globex' -H 'Content-Type: application/json' \
       -d '{"email":"marge@globex.example","first_name":"Marge","last_name":"Simpson"}'
  curl -s '%[1]s/lookup?email=alice@acme.example'
  curl -s %[1]s/roles/ -H 'tenant: acme'

Tenant admin API:
  export ADMIN_TOKEN=%[3]s
  curl -s %[1]s/tenants %[4]s
  curl -s -X POST %[1]s/tenants %[4]s -H 'Content-Type: application/json' \
       -d '{"name":"Initech","schema":"initech","host":"initech.localhost"}'
  curl -s %[1]s/tenants/acme %[4]s
  curl -s -X POST '%[1]s/tenants/acme/downgrade?steps=1' %[4]s
  curl -s -X POST '%[1]s/tenants/acme/upgrade?dry_run=true' %[4]s
  curl -s -X POST %[1]s/tenants/upgrade %[4]s
  curl -s -X DELETE %[1]s/tenants/initech %[4]s

Migration CLI (same binary; works while the server runs):
  %[5]s status
  %[5]s upgrade acme --dry-run
  %[5]s fleet-upgrade
  %[5]s help

Ctrl-C stops the server (and the embedded PostgreSQL).

`, base, port, b.token, auth, cli)
}
