package tenancycli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-tenancy/tenancy"
)

func (c *cli) fleetUpgrade(ctx context.Context, fs *flag.FlagSet, args []string) int {
	conc := fs.Int("concurrency", 0, "how many tenants to migrate at once (0: the Migrator's default)")
	list := fs.String("tenants", "", "comma-separated `schemas` to upgrade (default: every tenant)")
	version := fs.Uint("version", 0, "target `version` (0: the newest)")
	if _, code, ok := c.parse(fs, args, 0, 0); !ok {
		return code
	}
	if *conc < 0 {
		return c.usageError(fs, "--concurrency must not be negative, got %d", *conc)
	}
	opts := tenancy.FleetOptions{Target: *version, Concurrency: *conc}
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

	p := &progress{w: c.Stdout, mode: c.progressMode(), start: time.Now()}
	opts.Progress = p.update
	rep, err := c.m.UpgradeFleet(ctx, opts)
	p.finish()

	if len(rep.Tenants) > 0 {
		w := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "SCHEMA\tFROM\tTO\tRESULT\tDURATION\tERROR")
		for _, tr := range rep.Tenants {
			errText := ""
			if tr.Err != nil && !notRun(tr) {
				errText = tr.Err.Error()
			}
			took := "-" // skipped, or not run: no connection was opened
			if tr.Duration > 0 {
				took = ms(tr.Duration)
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\n", tr.Schema, tr.From, tr.To, outcome(tr), took, errText)
		}
		w.Flush()
	}
	fmt.Fprintf(c.Stdout, "fleet upgrade: %d upgraded, %d skipped, %d failed, %d not run, in %s\n",
		rep.Upgraded, rep.Skipped, rep.Failed, rep.NotRun, ms(rep.Duration))

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
		return ExitFailure
	}
	return c.fail(err)
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
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %d/%d  ok %d  failed %d  %s  %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		fp.Done, fp.Total, p.ok, p.bad, time.Since(p.start).Round(100*time.Millisecond), fp.Last.Schema)
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

// notRun reports whether tr is a tenant the run did not get to (its context
// ended first): UpgradeFleet gives those the bare context error.
func notRun(tr tenancy.TenantResult) bool {
	return tr.Err == context.Canceled || tr.Err == context.DeadlineExceeded //nolint:errorlint // the bare sentinel marks it
}

// outcome is the RESULT column.
func outcome(tr tenancy.TenantResult) string {
	switch {
	case notRun(tr):
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
