package tenancycli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// closed reports whether ch is closed (or becomes so within a generous bound).
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

func open(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

func TestFleetStopperTwoStages(t *testing.T) {
	for _, viaCtx := range []bool{false, true} {
		var errOut bytes.Buffer
		c := &cli{Config: Config{Name: "tenancy", Stderr: &errOut}}
		var sigs chan<- os.Signal
		unregistered := false
		ctx, cancel := context.WithCancel(context.Background())
		runCtx, drain, stop := c.stopper(ctx, func(ch chan<- os.Signal) func() {
			sigs = ch
			return func() { unregistered = true }
		})
		if !open(drain) || runCtx.Err() != nil {
			t.Fatal("stopped before any interrupt")
		}
		// First stage: the program's context ends (signal.NotifyContext) and
		// the same Ctrl-C reaches the handler, or only the signal does.
		if viaCtx {
			cancel()
			if !closed(drain) {
				t.Fatal("the context ended and the run does not drain")
			}
		}
		sigs <- os.Interrupt
		if !closed(drain) {
			t.Fatal("a first signal does not drain")
		}
		if runCtx.Err() != nil {
			t.Fatalf("viaCtx=%v: the first interrupt cancelled the running migrations", viaCtx)
		}
		// Second stage: cancel.
		sigs <- syscall.SIGTERM
		if !closed(runCtx.Done()) {
			t.Fatal("a second signal does not cancel")
		}
		stop()
		cancel()
		if !unregistered {
			t.Fatal("the signal handler is still registered")
		}
		if out := errOut.String(); !strings.Contains(out, "stopping: the running tenants finish") || !strings.Contains(out, "cancelling the running migrations") {
			t.Fatalf("stderr: %q", out)
		}
	}
}
