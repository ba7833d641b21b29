//go:build !linux

package latproxy

// newWaiter falls back on the runtime's timer outside Linux, which may overshoot
// a sub-millisecond delay by up to a millisecond.
func newWaiter() waiter { return newTimerWaiter() }
