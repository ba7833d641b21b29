package wire_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy/internal/wire"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// loopConn serves data, a whole number of messages, over and over.
type loopConn struct {
	net.Conn
	data []byte
	pos  int
}

func (l *loopConn) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.pos:])
	l.pos = (l.pos + n) % len(l.data)
	return n, nil
}

// BenchmarkRead measures the read path: DataRow streams of several row sizes read
// in the driver's buffer size (lib/pq reads through a 4 KiB bufio.Reader, pgx in
// 8 KiB chunks and straight into its buffer for large messages), with and
// without the wrapper. Run:
//
//	go test -run '^$' -bench BenchmarkRead -benchtime 2s ./internal/wire/
func BenchmarkRead(b *testing.B) {
	for _, size := range []int{16, 200, 8 << 10, 1 << 20} {
		var data []byte
		for len(data) < 4<<20 {
			data = append(data, row(strings.Repeat("v", size))...)
		}
		for _, wrapped := range []bool{false, true} {
			name := "raw"
			if wrapped {
				name = "wrapped"
			}
			for _, bufSize := range []int{4 << 10, 64 << 10} {
				b.Run(name+"/row"+itoa(size)+"/read"+itoa(bufSize), func(b *testing.B) {
					var c net.Conn = &loopConn{data: data}
					if wrapped {
						c = wire.Wrap(c)
					}
					buf := make([]byte, bufSize)
					b.SetBytes(int64(len(data)))
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						for got := 0; got < len(data); {
							n, err := c.Read(buf)
							if err != nil {
								b.Fatal(err)
							}
							got += n
						}
					}
				})
			}
		}
	}
}

func itoa(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + "M"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + "K"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// BenchmarkPGRows reads about 5 MB of rows from the real server through pgx, with
// and without the wrapper (end to end: the server and the driver dominate).
func BenchmarkPGRows(b *testing.B) {
	dsn := tenancytest.NewDatabase(b)
	for _, wrapped := range []bool{false, true} {
		name := "raw"
		if wrapped {
			name = "wrapped"
		}
		b.Run(name, func(b *testing.B) {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				b.Fatal(err)
			}
			if wrapped {
				cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
					return wire.AfterNetConnect(ctx, nc)
				}
			}
			ctx := context.Background()
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, ok := wire.From(conn.PgConn().Conn()); ok != wrapped {
				b.Fatalf("wrapped: %v", ok)
			}
			const rows, width = 50000, 100
			b.SetBytes(rows * (width + 11))
			for i := 0; i < b.N; i++ {
				var n int
				rs, err := conn.Query(ctx, "SELECT repeat('x', 100) FROM generate_series(1, 50000)", pgx.QueryExecModeExec)
				if err != nil {
					b.Fatal(err)
				}
				for rs.Next() {
					n++
				}
				if rs.Err() != nil || n != rows {
					b.Fatalf("%d rows, %v", n, rs.Err())
				}
			}
		})
	}
}
