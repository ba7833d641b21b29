package proc

import (
	"fmt"
	"strings"
	"testing"
)

func TestTailWriter(t *testing.T) {
	t.Parallel()
	var lines []string
	w := NewTailWriter("p", func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) })
	fmt.Fprint(w, "one\ntw")
	fmt.Fprint(w, "o\nthree")
	if got := strings.Join(lines, "|"); got != "p: one|p: two" {
		t.Errorf("logged %q, want complete lines only", got)
	}
	if got, want := w.Tail(), "p output:\n\tone\n\ttwo\n\tthree"; got != want {
		t.Errorf("Tail() = %q, want %q", got, want)
	}

	for i := 0; i < TailSize; i++ {
		fmt.Fprintf(w, "line %d\n", i)
	}
	tail := w.Tail()
	if len(strings.ReplaceAll(tail, "\t", "")) > TailSize+len("p output:\n") || !strings.HasSuffix(tail, fmt.Sprintf("line %d", TailSize-1)) {
		t.Errorf("Tail() after much output: %d bytes ending %q", len(tail), tail[len(tail)-20:])
	}
	if first := strings.SplitN(tail, "\n\t", 3)[1]; !strings.HasPrefix(first, "line ") {
		t.Errorf("Tail() starts mid-line: %q", first)
	}
	if got := NewTailWriter("q", nil).Tail(); got != "q printed nothing" {
		t.Errorf("empty Tail() = %q", got)
	}
}
