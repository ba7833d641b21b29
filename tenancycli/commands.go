package tenancycli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/go-tenancy/tenancy"
)

func (c *cli) migrateShared(ctx context.Context, fs *flag.FlagSet, args []string) int {
	if _, code, ok := c.parse(fs, args, 0, 0); !ok {
		return code
	}
	res, err := c.m.MigrateShared(ctx)
	if err != nil {
		return c.fail(err)
	}
	c.printResult(res)
	return ExitOK
}

func (c *cli) upgrade(ctx context.Context, fs *flag.FlagSet, args []string) int {
	version := fs.Uint("version", 0, "target `version` (0: the newest)")
	dryRun := fs.Bool("dry-run", false, "print the migrations that would run, with their SQL, and change nothing")
	pos, code, ok := c.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	if *dryRun {
		p, err := c.m.Plan(ctx, pos[0], *version)
		if err != nil {
			return c.fail(err)
		}
		if p.To < p.From {
			// Plan would revert to reach an older version; an upgrade never does.
			p.To, p.Steps = p.From, nil
		}
		c.printPlan(p)
		return ExitOK
	}
	res, err := c.m.UpgradeTo(ctx, pos[0], *version)
	if err != nil {
		return c.fail(err)
	}
	c.printResult(res)
	return ExitOK
}

func (c *cli) downgrade(ctx context.Context, fs *flag.FlagSet, args []string) int {
	steps := fs.Int("steps", 1, "how many of the newest applied migrations to revert")
	dryRun := fs.Bool("dry-run", false, "print the migrations that would be reverted, with their SQL, and change nothing")
	pos, code, ok := c.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	if *steps < 1 {
		return c.usageError(fs, "--steps must be at least 1, got %d", *steps)
	}
	if *dryRun {
		p, err := c.m.PlanDowngrade(ctx, pos[0], *steps)
		if err != nil {
			return c.fail(err)
		}
		c.printPlan(p)
		return ExitOK
	}
	res, err := c.m.Downgrade(ctx, pos[0], *steps)
	if err != nil {
		return c.fail(err)
	}
	c.printResult(res)
	return ExitOK
}

func (c *cli) status(ctx context.Context, fs *flag.FlagSet, args []string) int {
	check := fs.Bool("check", false, "exit 1 if a schema shown is dirty or has pending migrations")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	pos, code, ok := c.parse(fs, args, 0, 1)
	if !ok {
		return code
	}
	var rows []tenancy.Status
	if len(pos) == 1 {
		st, err := c.m.Status(ctx, pos[0])
		if err != nil {
			return c.fail(err)
		}
		rows = append(rows, st)
		if *asJSON {
			if err := c.writeJSON(statusOf(st)); err != nil {
				return c.fail(err)
			}
			return c.checkStatus(*check, rows)
		}
		w := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(w, "schema\t%s\n", st.Schema)
		if st.TenantID != 0 {
			fmt.Fprintf(w, "tenant id\t%d\n", st.TenantID)
		}
		fmt.Fprintf(w, "version\t%d\nhead\t%d\npending\t%d\ndirty\t%s\n", st.Version, st.Head, st.Pending, yesNo(st.Dirty))
		if !st.Node.IsZero() {
			fmt.Fprintf(w, "node\t%s\n", st.Node)
		}
		w.Flush()
	} else {
		shared, err := c.m.Status(ctx, c.SharedSchema)
		if err != nil {
			return c.fail(err)
		}
		fleet, err := c.m.FleetStatus(ctx)
		if err != nil {
			return c.fail(err)
		}
		rows = append([]tenancy.Status{shared}, fleet...)
		if *asJSON {
			doc := statusDoc{Shared: statusOf(shared), Tenants: make([]statusJSON, len(fleet))}
			for i, st := range fleet {
				doc.Tenants[i] = statusOf(st)
			}
			if err := c.writeJSON(doc); err != nil {
				return c.fail(err)
			}
			return c.checkStatus(*check, rows)
		}
		w := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
		// On Citus, a NODE column says where each tenant is (the shared schema
		// stays on the coordinator).
		nodes := false
		for _, st := range fleet {
			nodes = nodes || !st.Node.IsZero()
		}
		if nodes {
			fmt.Fprintln(w, "SCHEMA\tTENANT\tVERSION\tHEAD\tPENDING\tDIRTY\tNODE")
		} else {
			fmt.Fprintln(w, "SCHEMA\tTENANT\tVERSION\tHEAD\tPENDING\tDIRTY")
		}
		for _, st := range rows {
			id, node := "(shared)", "coordinator"
			if st.TenantID != 0 {
				id, node = strconv.FormatInt(st.TenantID, 10), st.Node.String()
				if node == "" {
					node = "-"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s", st.Schema, id, st.Version, st.Head, st.Pending, yesNo(st.Dirty))
			if nodes {
				fmt.Fprintf(w, "\t%s", node)
			}
			fmt.Fprintln(w)
		}
		w.Flush()
		fmt.Fprintf(c.Stdout, "%d tenants\n", len(fleet))
	}
	return c.checkStatus(*check, rows)
}

// checkStatus is status --check: ExitFailure if a row is dirty or behind.
func (c *cli) checkStatus(check bool, rows []tenancy.Status) int {
	if check {
		bad := 0
		for _, st := range rows {
			if st.Dirty || st.Pending > 0 {
				bad++
			}
		}
		if bad > 0 {
			fmt.Fprintf(c.Stderr, "%s: %d schemas are dirty or have pending migrations\n", c.Name, bad)
			return ExitFailure
		}
	}
	return ExitOK
}

// statusJSON is one schema in status --json: field names are part of the
// CLI's interface (CI pipelines read them), independent of tenancy.Status.
type statusJSON struct {
	Schema   string `json:"schema"`
	TenantID int64  `json:"tenant_id"` // 0 for the shared schema
	Version  uint   `json:"version"`
	Head     uint   `json:"head"`
	Pending  int    `json:"pending"`
	Dirty    bool   `json:"dirty"`
	// Node is, on Citus, the host:port of the node holding a tenant's schema.
	Node string `json:"node,omitempty"`
}

type statusDoc struct {
	Shared  statusJSON   `json:"shared"`
	Tenants []statusJSON `json:"tenants"`
}

func statusOf(st tenancy.Status) statusJSON {
	return statusJSON{Schema: st.Schema, TenantID: st.TenantID, Version: st.Version, Head: st.Head,
		Pending: st.Pending, Dirty: st.Dirty, Node: st.Node.String()}
}

// writeJSON writes v to Stdout as one indented JSON document.
func (c *cli) writeJSON(v any) error {
	enc := json.NewEncoder(c.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) force(ctx context.Context, fs *flag.FlagSet, args []string) int {
	pos, code, ok := c.parse(fs, args, 2, 2)
	if !ok {
		return code
	}
	v, err := strconv.Atoi(pos[1])
	if err != nil || v < -1 {
		return c.usageError(fs, "version %q is not a migration version (or 0 / -1 for none)", pos[1])
	}
	if err := c.m.Force(ctx, pos[0], v); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.Stdout, "schema %q: version set to %d, dirty flag cleared (no migration was run)\n", pos[0], max(v, 0))
	return ExitOK
}

func (c *cli) create(ctx context.Context, fs *flag.FlagSet, args []string) int {
	host := fs.String("host", "", "the tenant's unique `host` name (optional)")
	nodeFlag := fs.String("node", "", "on Citus, the `host:port` of the node to place the tenant on (default: Citus chooses)")
	pos, code, ok := c.parse(fs, args, 2, 2)
	if !ok {
		return code
	}
	var opts []tenancy.CreateOption
	if *nodeFlag != "" {
		n, err := tenancy.ParseNode(*nodeFlag)
		if err != nil {
			return c.usageError(fs, "--node: %s", strings.TrimPrefix(err.Error(), "tenancy: "))
		}
		opts = append(opts, tenancy.PlaceOn(n))
	}
	t, err := c.m.CreateTenant(ctx, tenancy.NewTenant{Name: pos[0], Schema: pos[1], Host: *host}, opts...)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.Stdout, "created tenant %q (id %d): schema %s", t.Name, t.ID, t.Schema)
	if t.Host != "" {
		fmt.Fprintf(c.Stdout, ", host %s", t.Host)
	}
	fmt.Fprintf(c.Stdout, ", version %d\n", c.m.Head())
	return ExitOK
}

func (c *cli) move(ctx context.Context, fs *flag.FlagSet, args []string) int {
	logical := fs.Bool("logical-replication", false, "copy with Citus's logical replication, writes not blocked (see the Go docs of tenancy.LogicalReplication before using it)")
	pos, code, ok := c.parse(fs, args, 2, 2)
	if !ok {
		return code
	}
	to, err := tenancy.ParseNode(pos[1])
	if err != nil {
		return c.usageError(fs, "%s", strings.TrimPrefix(err.Error(), "tenancy: "))
	}
	var opts []tenancy.MoveOption
	if *logical {
		opts = append(opts, tenancy.LogicalReplication())
	}
	from, err := c.m.Placement(ctx, pos[0])
	if err != nil {
		return c.fail(err)
	}
	if err := c.m.MoveTenant(ctx, pos[0], to, opts...); err != nil {
		return c.fail(err)
	}
	if from == to {
		fmt.Fprintf(c.Stdout, "tenant schema %s is already on %s: nothing moved\n", pos[0], to)
		return ExitOK
	}
	fmt.Fprintf(c.Stdout, "moved tenant schema %s from %s to %s\n", pos[0], from, to)
	return ExitOK
}

func (c *cli) drop(ctx context.Context, fs *flag.FlagSet, args []string) int {
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	pos, code, ok := c.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	schema := pos[0]
	if !*yes {
		if c.Stdin == nil {
			return c.usageError(fs, "refusing to drop %q without --yes: there is no terminal to confirm on", schema)
		}
		// Look the tenant up first: no point asking about a tenant that is not there.
		t, err := c.reg.Get(ctx, tenancy.SchemaKey(schema))
		if err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(c.Stdout, "This drops tenant %q (id %d): schema %s and ALL its data.\nType the schema name to confirm: ",
			t.Name, t.ID, t.Schema)
		line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != schema {
			fmt.Fprintln(c.Stdout)
			fmt.Fprintf(c.Stderr, "%s: not confirmed: nothing was dropped\n", c.Name)
			return ExitFailure
		}
	}
	if err := c.m.DropTenant(ctx, schema); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.Stdout, "dropped tenant schema %s\n", schema)
	return ExitOK
}

func (c *cli) list(ctx context.Context, fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if _, code, ok := c.parse(fs, args, 0, 0); !ok {
		return code
	}
	if *asJSON {
		ts := []tenancy.Tenant{} // [] rather than null for no tenants
		for t, err := range c.reg.All(ctx) {
			if err != nil {
				return c.fail(err)
			}
			ts = append(ts, t)
		}
		if err := c.writeJSON(ts); err != nil {
			return c.fail(err)
		}
		return ExitOK
	}
	w := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSCHEMA\tNAME\tHOST\tCREATED")
	n := 0
	for t, err := range c.reg.All(ctx) {
		if err != nil {
			w.Flush()
			return c.fail(err)
		}
		n++
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Schema, t.Name, orDash(t.Host), t.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"))
	}
	w.Flush()
	fmt.Fprintf(c.Stdout, "%d tenants\n", n)
	return ExitOK
}

// printResult reports what one run did.
func (c *cli) printResult(r tenancy.Result) {
	if len(r.Applied) == 0 {
		fmt.Fprintf(c.Stdout, "schema %q: at version %d, nothing to do\n", r.Schema, r.To)
		return
	}
	fmt.Fprintf(c.Stdout, "schema %q: version %d -> %d (ran %s) in %s\n", r.Schema, r.From, r.To, versions(r.Applied), ms(r.Duration))
}

// printPlan prints a dry run: the migrations that would run, with their SQL.
func (c *cli) printPlan(p tenancy.Plan) {
	w := c.Stdout
	if len(p.Steps) == 0 {
		fmt.Fprintf(w, "schema %q: at version %d, nothing to do (dry run)\n", p.Schema, p.From)
		return
	}
	fmt.Fprintf(w, "schema %q: version %d -> %d, %d migration(s) would run (dry run: nothing was changed)\n",
		p.Schema, p.From, p.To, len(p.Steps))
	for _, s := range p.Steps {
		dir := "up"
		if s.Down {
			dir = "down"
		}
		fmt.Fprintf(w, "\n-- migration %d %s (%s)\n%s", s.Version, s.Name, dir, s.SQL)
		if !strings.HasSuffix(s.SQL, "\n") {
			fmt.Fprintln(w)
		}
	}
}

func versions(vs []uint) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(s, ", ")
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) version(_ context.Context, fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := c.parseNoDB(fs, args, 0, 0); !ok {
		return code
	}
	v := versionInfo{Tenancy: libraryVersion(), Go: runtime.Version()}
	if c.m != nil {
		v.SharedHead, v.TenantHead = c.m.SharedHead(), c.m.Head()
	}
	if *asJSON {
		if err := c.writeJSON(v); err != nil {
			return c.fail(err)
		}
		return ExitOK
	}
	fmt.Fprintf(c.Stdout, "tenancy %s (%s)\n", v.Tenancy, v.Go)
	if c.m != nil {
		fmt.Fprintf(c.Stdout, "migrations: shared head %d, tenant head %d\n", v.SharedHead, v.TenantHead)
	}
	return ExitOK
}

type versionInfo struct {
	Tenancy    string `json:"tenancy"`
	Go         string `json:"go"`
	SharedHead uint   `json:"shared_head,omitempty"`
	TenantHead uint   `json:"tenant_head,omitempty"`
}

// libraryVersion is the tenancy module's version as recorded in the binary:
// the dependency's version, "(devel)" when tenancy is the main module (a
// checkout), or "unknown" without build information.
func libraryVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	const path = "github.com/go-tenancy/tenancy"
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}
