package atexit

import (
	"errors"
	"reflect"
	"testing"
)

func TestRun(t *testing.T) {
	var calls []int
	errA, errC := errors.New("a failed"), errors.New("c failed")
	Register(func() error { calls = append(calls, 1); return errA })
	Register(func() error { calls = append(calls, 2); return nil })
	Register(func() error { calls = append(calls, 3); return errC })

	err := Run()
	if want := []int{3, 2, 1}; !reflect.DeepEqual(calls, want) {
		t.Errorf("call order %v, want %v", calls, want)
	}
	if !errors.Is(err, errA) || !errors.Is(err, errC) {
		t.Errorf("Run() = %v, want both errors joined", err)
	}

	calls = nil
	if err := Run(); err != nil || len(calls) != 0 {
		t.Errorf("second Run() = %v after calls %v, want nil and no calls", err, calls)
	}
	Register(func() error { calls = append(calls, 4); return nil })
	if err := Run(); err != nil || !reflect.DeepEqual(calls, []int{4}) {
		t.Errorf("third Run() = %v, calls %v, want nil and [4]", err, calls)
	}
}
