package tenancy_test

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy"
)

// BenchmarkCitusMoveUnderLoad moves a tenant to the other worker and back while
// 8 goroutines read and write it, and reports what became of the writes: how
// many were confirmed (the INSERT returned success), how many of those are not
// in the table afterwards (lost-rows), and how long the moves took. The client
// is a plain *sql.DB over pgx with schema-qualified SQL, and the move a plain
// citus_schema_move: no tenancy code runs, so what it shows is Citus's. It
// measures each transfer mode ("block_writes", the Migrator's default, and
// "auto", logical replication, [tenancy.LogicalReplication]):
//
//	go test -run '^$' -bench CitusMoveUnderLoad -benchtime 1x -count 5 -race .
//
// (-race slows the client, which made the loss with "auto" more frequent.)
func BenchmarkCitusMoveUnderLoad(b *testing.B) {
	for _, mode := range []string{"block_writes", "auto"} {
		b.Run("mode="+mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				confirmed, lost, took := citusMoveUnderLoad(b, mode)
				b.ReportMetric(float64(confirmed), "confirmed-writes")
				b.ReportMetric(float64(lost), "lost-rows")
				b.ReportMetric(took.Seconds(), "move-s")
			}
		})
	}
}

func citusMoveUnderLoad(b *testing.B, mode string) (confirmed, lost int64, took time.Duration) {
	b.StopTimer()
	tenantSet := mapFS(map[string]string{
		"1_rows.up.sql": `CREATE TABLE tagged (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tag text NOT NULL, n int NOT NULL);`,
	})
	e := newCitusEnv(b, mapFS(map[string]string{"1_a.up.sql": `CREATE TABLE a (id bigint PRIMARY KEY);`}), tenantSet).ready(b)
	e.create(b, "load0")
	e.create(b, "load1")
	db, err := sql.Open("pgx", e.dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(8)
	ctx := context.Background()
	workers := workerNodes(b)
	home := e.citusNode(b, "load0")
	away := workers[0]
	if away == home {
		away = workers[1]
	}
	var ok, ops atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for op := 0; ; op++ {
				select {
				case <-done:
					return
				default:
				}
				ops.Add(1)
				var err error
				switch op % 3 {
				case 0:
					if _, err = db.ExecContext(ctx, `INSERT INTO load0.tagged (tag, n) VALUES ('load0', $1)`, g*1_000_000+op); err == nil {
						ok.Add(1)
					}
				case 1:
					_, err = db.ExecContext(ctx, `INSERT INTO load1.tagged (tag, n) VALUES ('load1', $1)`, g*1_000_000+op)
				default:
					var n int
					err = db.QueryRowContext(ctx, `SELECT count(*) FROM load0.tagged WHERE tag = 'load0'`).Scan(&n)
				}
				if err != nil {
					b.Errorf("under load: %v", err)
					return
				}
			}
		}()
	}
	for ops.Load() < 100 {
		runtime.Gosched()
	}
	b.StartTimer()
	start := time.Now()
	for _, to := range []tenancy.Node{away, home} {
		if _, err := e.admin.Exec(`SELECT citus_schema_move('load0', $1::text, $2::int, $3::citus.shard_transfer_mode)`, to.Host, to.Port, mode); err != nil {
			b.Fatal(err)
		}
	}
	took = time.Since(start)
	b.StopTimer()
	close(done)
	wg.Wait()
	n := int64(e.count(b, `SELECT count(*) FROM load0.tagged`))
	return ok.Load(), ok.Load() - n, took
}
