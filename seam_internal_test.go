package tenancy

import (
	"database/sql/driver"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"
)

// TestSeamFor: each supported driver gets its seam, anything else the generic one
// (which proves nothing about a session and so resets it before every statement).
func TestSeamFor(t *testing.T) {
	if _, ok := seamFor(&pq.Driver{}).(libpqSeam); !ok {
		t.Error("lib/pq does not get libpqSeam")
	}
	if _, ok := seamFor(stdlib.GetDefaultDriver()).(pgxSeam); !ok {
		t.Error("pgx's stdlib driver does not get pgxSeam")
	}
	if _, ok := seamFor(fakeDriver{}).(genericSeam); !ok {
		t.Error("an unknown driver does not get genericSeam")
	}
}

type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) { return nil, driver.ErrSkip }
