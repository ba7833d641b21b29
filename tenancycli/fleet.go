package tenancycli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-tenancy/tenancy"
)

func (c *cli) fleetUpgrade(ctx context.Context, fs *flag.FlagSet, args []string) int {
	conc := fs.Int("concurrency", 0, "how many tenants to migrate at once (0: the Migrator's default)")
	list := fs.String("tenants", "", "comma-separated `schemas` to upgrade (default: every tenant)")
	version := fs.Uint("version", 0, "target `version` (0: the newest)")
	canary := fs.Int("canary", 0, "migrate this `many` tenants first; if one fails, start no other")
	maxFail := fs.Int("max-failures", 0, "start no further tenant once this `many` have failed (0: no limit)")
	dryRun := fs.Bool("dry-run", false, "list per tenant the migrations that would run; change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout (no progress, no table)")
	checkDrift := fs.Bool("check-drift", false, "after the run, compare each tenant's structure with the clone template (or --drift-reference); exit 1 on drift")
	driftRef := fs.String("drift-reference", "", "the `schema` --check-drift compares with (default: the clone template)")
	if _, code, ok := c.parse(fs, args, 0, 0); !ok {
		return code
	}
	switch {
	case *conc < 0:
		return c.usageError(fs, "--concurrency must not be negative, got %d", *conc)
	case *canary < 0:
		return c.usageError(fs, "--canary must not be negative, got %d", *canary)
	case *maxFail < 0:
		return c.usageError(fs, "--max-failures must not be negative, got %d", *maxFail)
	}
	opts := tenancy.FleetOptions{Target: *version, Concurrency: *conc, Canary: *canary, MaxFailures: *maxFail, DryRun: *dryRun,
		CheckDrift: *checkDrift || *driftRef != "", DriftReference: *driftRef}
	if *list != "" {
		for _, s := range strings.Split(*list, ",") {
			if s = strings.TrimSpace(s); s != "" {
				opts.Schemas = append(opts.Schemas, s)
			}
		}
		if len(opts.Schemas) == 0 {
			return c.usageError(fs, "--tenants names no schema")
		}
	}

	// A first interrupt (ctx ending, or SIGINT/SIGTERM) drains: the running
	// tenants finish, no new one starts. A second one cancels those running.
	runCtx, drain, stop := c.stopper(ctx, notifySignals)
	defer stop()
	opts.Drain = drain

	mode := c.progressMode()
	if *asJSON {
		mode = ProgressNone
	}
	p := &progress{w: c.Stdout, mode: mode, start: time.Now(), cols: termColumns(os.Getenv)}
	opts.Progress = p.update
	rep, err := c.m.UpgradeFleet(runCtx, opts)
	p.finish()

	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(fleetJSON(rep)); jerr != nil {
			return c.fail(jerr)
		}
	} else {
		c.printFleet(rep)
	}

	if opts.CheckDrift && err == nil && rep.Drifted > 0 {
		fmt.Fprintf(c.Stderr, "%s: %d tenants drifted from the reference schema; '%s drift <schema>' lists the differences\n",
			c.Name, rep.Drifted, c.Name)
		return ExitFailure
	}
	var fe *tenancy.FleetError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &fe):
		// The table has the details; say what to do next.
		fmt.Fprintf(c.Stderr, "%s: %d of %d tenants failed\n", c.Name, len(fe.Failed), fe.Total)
		if errors.Is(err, tenancy.ErrDirty) {
			fmt.Fprintf(c.Stderr, "hint: dirty tenants need a repair by hand and '%s force <schema> <version>'; "+
				"running fleet-upgrade again retries the others and skips those done\n", c.Name)
		}
		if fe.NotRun > 0 {
			fmt.Fprintf(c.Stderr, "%s: stopped (%s): %d tenants not run; running fleet-upgrade again resumes\n", c.Name, fe.Stopped, fe.NotRun)
		}
		return ExitFailure
	case errors.Is(err, tenancy.ErrFleetStopped) || rep.NotRun > 0:
		fmt.Fprintf(c.Stderr, "%s: stopped (%s): %d tenants not run; running fleet-upgrade again resumes\n", c.Name, rep.Stopped, rep.NotRun)
		return ExitFailure
	}
	return c.fail(err)
}

// printFleet prints the report's table and summary line.
func (c *cli) printFleet(rep tenancy.FleetReport) {
	if len(rep.Tenants) > 0 {
		w := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
		// On Citus, a NODE column says where each tenant is.
		nodes := false
		for _, tr := range rep.Tenants {
			nodes = nodes || !tr.Node.IsZero()
		}
		node := func(tr tenancy.TenantResult) string {
			if !nodes {
				return ""
			}
			if tr.Node.IsZero() {
				return "-\t"
			}
			return tr.Node.String() + "\t"
		}
		head := ""
		if nodes {
			head = "NODE\t"
		}
		if rep.DryRun {
			fmt.Fprintln(w, "SCHEMA\t"+head+"FROM\tTO\tWOULD RUN\tERROR")
		} else {
			fmt.Fprintln(w, "SCHEMA\t"+head+"FROM\tTO\tRESULT\tDURATION\tERROR")
		}
		for _, tr := range rep.Tenants {
			errText := ""
			if tr.Err != nil && !tr.NotRun {
				errText = tr.Err.Error()
			}
			if rep.DryRun {
				to, run := tr.To, "-"
				if len(tr.Planned) > 0 {
					to, run = tr.Planned[len(tr.Planned)-1], versions(tr.Planned)
				}
				fmt.Fprintf(w, "%s\t%s%d\t%d\t%s\t%s\n", tr.Schema, node(tr), tr.From, to, run, errText)
				continue
			}
			took := "-" // skipped, or not run: no connection was opened
			if tr.Duration > 0 {
				took = ms(tr.Duration)
			}
			fmt.Fprintf(w, "%s\t%s%d\t%d\t%s\t%s\t%s\n", tr.Schema, node(tr), tr.From, tr.To, outcome(tr), took, errText)
		}
		w.Flush()
	}
	if rep.Drift != nil {
		compared := 0
		for _, d := range rep.Drift {
			if d.Compared {
				compared++
			}
			if d.Compared && d.Drifted() {
				fmt.Fprintf(c.Stdout, "DRIFTED %s: %d items missing, %d extra\n", d.Schema, len(d.Missing), len(d.Extra))
			}
		}
		fmt.Fprintf(c.Stdout, "drift: %d of %d tenants compared differ from the reference\n", rep.Drifted, compared)
	}
	if rep.DryRun {
		fmt.Fprintf(c.Stdout, "fleet upgrade (dry run): %d would be upgraded, %d skipped, %d failed; nothing was changed\n",
			rep.Upgraded, rep.Skipped, rep.Failed)
		return
	}
	fmt.Fprintf(c.Stdout, "fleet upgrade: %d upgraded, %d skipped, %d failed, %d not run, in %s\n",
		rep.Upgraded, rep.Skipped, rep.Failed, rep.NotRun, ms(rep.Duration))
}

// notifySignals is signal.Notify for SIGINT and SIGTERM; tests replace it.
func notifySignals(ch chan<- os.Signal) func() {
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return func() { signal.Stop(ch) }
}

// stopper turns interrupts into the two stages of stopping a fleet run. The
// returned context is detached from ctx: ctx ending (a program that cancels its
// context on the first Ctrl-C, as signal.NotifyContext does) or a first
// SIGINT/SIGTERM closes drain; a second signal cancels the returned context,
// which cancels the migrations running. notify registers for the signals (and
// returns its undo). stop releases everything.
func (c *cli) stopper(ctx context.Context, notify func(chan<- os.Signal) func()) (context.Context, <-chan struct{}, func()) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	drain := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	unnotify := notify(sigs)
	finished := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		draining, signals := false, 0
		startDrain := func() {
			if !draining {
				draining = true
				close(drain)
				fmt.Fprintf(c.Stderr, "%s: stopping: the running tenants finish, no new one starts; interrupt again to cancel them\n", c.Name)
			}
		}
		done := ctx.Done()
		for {
			select {
			case <-done:
				done = nil
				startDrain()
			case <-sigs:
				// The first signal may also have ended ctx: only a second signal
				// cancels.
				signals++
				startDrain()
				if signals >= 2 {
					fmt.Fprintf(c.Stderr, "%s: cancelling the running migrations\n", c.Name)
					cancel()
					return
				}
			case <-finished:
				return
			}
		}
	}()
	return runCtx, drain, func() {
		unnotify()
		close(finished)
		wg.Wait()
		cancel()
	}
}

// fleetReportJSON is the --json form of a fleet report.
type fleetReportJSON struct {
	DryRun     bool               `json:"dry_run"`
	Shared     resultJSON         `json:"shared"`
	Tenants    []tenantResultJSON `json:"tenants"`
	Upgraded   int                `json:"upgraded"`
	Skipped    int                `json:"skipped"`
	Failed     int                `json:"failed"`
	NotRun     int                `json:"not_run"`
	Stopped    string             `json:"stopped,omitempty"`
	Drifted    *int               `json:"drifted,omitempty"`
	DurationMS float64            `json:"duration_ms"`
}

type resultJSON struct {
	Schema     string  `json:"schema"`
	From       uint    `json:"from"`
	To         uint    `json:"to"`
	Applied    []uint  `json:"applied"`
	Dirty      bool    `json:"dirty"`
	DurationMS float64 `json:"duration_ms"`
}

type tenantResultJSON struct {
	resultJSON
	TenantID int64  `json:"tenant_id"`
	Result   string `json:"result"` // upgraded, skipped, failed, not run, planned
	Planned  []uint `json:"planned,omitempty"`
	Error    string `json:"error,omitempty"`
	// Node is, on Citus, the host:port of the node holding the schema.
	Node string `json:"node,omitempty"`
	// Drift, with --check-drift: "same", "drifted" or "not compared".
	Drift string `json:"drift,omitempty"`
}

func toResultJSON(r tenancy.Result) resultJSON {
	applied := r.Applied
	if applied == nil {
		applied = []uint{}
	}
	return resultJSON{Schema: r.Schema, From: r.From, To: r.To, Applied: applied, Dirty: r.Dirty,
		DurationMS: float64(r.Duration) / float64(time.Millisecond)}
}

func fleetJSON(rep tenancy.FleetReport) fleetReportJSON {
	out := fleetReportJSON{DryRun: rep.DryRun, Shared: toResultJSON(rep.Shared), Tenants: []tenantResultJSON{},
		Upgraded: rep.Upgraded, Skipped: rep.Skipped, Failed: rep.Failed, NotRun: rep.NotRun, Stopped: rep.Stopped,
		DurationMS: float64(rep.Duration) / float64(time.Millisecond)}
	drift := map[string]string{}
	if rep.Drift != nil {
		n := rep.Drifted
		out.Drifted = &n
		for _, d := range rep.Drift {
			switch {
			case !d.Compared:
				drift[d.Schema] = "not compared"
			case d.Drifted():
				drift[d.Schema] = "drifted"
			default:
				drift[d.Schema] = "same"
			}
		}
	}
	for _, tr := range rep.Tenants {
		t := tenantResultJSON{resultJSON: toResultJSON(tr.Result), TenantID: tr.TenantID, Result: outcome(tr), Planned: tr.Planned,
			Drift: drift[tr.Schema], Node: tr.Node.String()}
		if rep.DryRun && tr.Err == nil && len(tr.Planned) > 0 {
			t.Result = "planned"
		}
		if tr.Err != nil {
			t.Error = tr.Err.Error()
		}
		out.Tenants = append(out.Tenants, t)
	}
	return out
}

// progressMode resolves ProgressAuto: a bar on a terminal, lines otherwise.
func (c *cli) progressMode() ProgressMode {
	if c.Progress != ProgressAuto {
		return c.Progress
	}
	if f, ok := c.Stdout.(*os.File); ok && os.Getenv("TERM") != "dumb" {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return ProgressBar
		}
	}
	return ProgressLines
}

// progress shows a fleet upgrade as it goes. Its update method is the
// FleetOptions.Progress callback, which UpgradeFleet calls from one goroutine.
type progress struct {
	w     io.Writer
	mode  ProgressMode
	start time.Time

	drawn   time.Time // when the bar was last drawn
	onLine  bool      // the bar is on the current line
	ok, bad int
	cols    int // the terminal's width: the bar's line never wraps
}

// termColumns is the terminal's width from $COLUMNS (which shells set), else 80.
func termColumns(getenv func(string) string) int {
	if getenv != nil {
		if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n >= 20 {
			return n
		}
	}
	return 80
}

// fit cuts line to fewer than cols characters (a line exactly as wide as the
// terminal wraps on some), ending it with "…" when it was cut.
func fit(line string, cols int) string {
	r := []rune(line)
	if len(r) < cols {
		return line
	}
	return string(r[:cols-2]) + "…"
}

// barInterval limits how often the bar is redrawn: a fleet of thousands of
// skipped tenants reports them faster than a terminal wants to repaint.
const barInterval = 100 * time.Millisecond

func (p *progress) update(fp tenancy.FleetProgress) {
	if fp.Last.Err != nil {
		p.bad++
	} else {
		p.ok++
	}
	switch p.mode {
	case ProgressLines:
		fmt.Fprintf(p.w, "[%d/%d] %s: %s\n", fp.Done, fp.Total, fp.Last.Schema, describe(fp.Last))
	case ProgressBar:
		if fp.Last.Err != nil {
			// Failures scroll up above the bar, so that none goes unseen.
			p.clear()
			fmt.Fprintf(p.w, "FAILED %s: %v\n", fp.Last.Schema, fp.Last.Err)
		} else if fp.Done < fp.Total && time.Since(p.drawn) < barInterval {
			return
		}
		p.draw(fp)
	}
}

func (p *progress) draw(fp tenancy.FleetProgress) {
	const width = 30
	filled := width
	if fp.Total > 0 {
		filled = width * fp.Done / fp.Total
	}
	line := fmt.Sprintf("[%s%s] %d/%d  ok %d  failed %d  %s  %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		fp.Done, fp.Total, p.ok, p.bad, time.Since(p.start).Round(100*time.Millisecond), fp.Last.Schema)
	fmt.Fprint(p.w, "\r\x1b[K"+fit(line, p.cols))
	p.drawn, p.onLine = time.Now(), true
}

// clear erases the bar from the current line.
func (p *progress) clear() {
	if p.onLine {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.onLine = false
	}
}

// finish ends the bar's line so that what follows starts on a new one.
func (p *progress) finish() {
	if p.onLine {
		fmt.Fprintln(p.w)
		p.onLine = false
	}
}

// outcome is the RESULT column.
func outcome(tr tenancy.TenantResult) string {
	switch {
	case tr.NotRun:
		return "not run"
	case tr.Err != nil:
		return "FAILED"
	case tr.Skipped:
		return "skipped"
	}
	return "upgraded"
}

// describe is a progress line's text.
func describe(tr tenancy.TenantResult) string {
	switch {
	case tr.Err != nil:
		return "FAILED: " + tr.Err.Error()
	case tr.Skipped:
		return fmt.Sprintf("skipped (at version %d)", tr.To)
	}
	return fmt.Sprintf("upgraded %d -> %d in %s", tr.From, tr.To, ms(tr.Duration))
}
