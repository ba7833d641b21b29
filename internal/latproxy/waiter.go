package latproxy

import "time"

// waiter waits until a due time; each writer has its own.
type waiter interface {
	wait(due time.Time)
	close()
}

// timerWaiter waits with a runtime timer.
type timerWaiter struct{ t *time.Timer }

func newTimerWaiter() waiter {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerWaiter{t: t}
}

func (w *timerWaiter) wait(due time.Time) {
	if d := time.Until(due); d > 0 {
		w.t.Reset(d)
		<-w.t.C
	}
}

func (w *timerWaiter) close() { w.t.Stop() }
