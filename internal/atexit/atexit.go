// Package atexit is a process-wide registry of cleanup functions that a test
// binary's TestMain runs after the tests: test helpers that start shared
// resources lazily (such as internal/citustest's cluster) register their stop
// function here, so that tenancytest.Main can stop them without importing, and
// thereby depending on, every such helper.
package atexit

import (
	"errors"
	"sync"
)

var (
	mu    sync.Mutex
	funcs []func() error
)

// Register adds f to the functions [Run] calls. It is safe for concurrent use. A
// function registered while Run is running is called by the next Run.
func Register(f func() error) {
	mu.Lock()
	defer mu.Unlock()
	funcs = append(funcs, f)
}

// Run calls every registered function, most recently registered first, and
// forgets them, so a second Run calls only functions registered since. It calls
// all of them even if some fail, and returns their errors joined.
func Run() error {
	mu.Lock()
	fs := funcs
	funcs = nil
	mu.Unlock()
	var errs []error
	for i := len(fs) - 1; i >= 0; i-- {
		errs = append(errs, fs[i]())
	}
	return errors.Join(errs...)
}
