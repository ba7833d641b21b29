package tenancy_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// What sqlc generates for database/sql (emit_prepared_queries off and on),
// trimmed to two queries: the shape a *tenancy.DB must fit.
type DBTX interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}

var (
	_ DBTX = (*tenancy.DB)(nil)
	_ DBTX = (*sql.Tx)(nil)
)

type Queries struct {
	db          DBTX
	countItemSt *sql.Stmt // with emit_prepared_queries
}

func New(db DBTX) *Queries { return &Queries{db: db} }

func Prepare(ctx context.Context, db DBTX) (*Queries, error) {
	q := Queries{db: db}
	var err error
	if q.countItemSt, err = db.PrepareContext(ctx, countItems); err != nil {
		return nil, err
	}
	return &q, nil
}

func (q *Queries) WithTx(tx *sql.Tx) *Queries { return &Queries{db: tx} }

const insertItem = `INSERT INTO items (tenant) VALUES ($1) RETURNING id`

func (q *Queries) InsertItem(ctx context.Context, tenant string) (int32, error) {
	row := q.db.QueryRowContext(ctx, insertItem, tenant)
	var id int32
	err := row.Scan(&id)
	return id, err
}

const countItems = `SELECT count(*) FROM items WHERE tenant = $1`

func (q *Queries) CountItems(ctx context.Context, tenant string) (int64, error) {
	var row *sql.Row
	if q.countItemSt != nil {
		row = q.countItemSt.QueryRowContext(ctx, tenant)
	} else {
		row = q.db.QueryRowContext(ctx, countItems, tenant)
	}
	var n int64
	err := row.Scan(&n)
	return n, err
}

// TestSqlcShapedCode runs sqlc-shaped code on a *tenancy.DB, on db.Pool(), on a
// prepared Queries and inside a transaction: every query lands in the schema of
// its context's tenant, and one without a tenant fails with ErrNoTenant.
func TestSqlcShapedCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme, globex := e.addTenant(t, "acme"), e.addTenant(t, "globex")
	ctxA, ctxG := tctx(acme), tctx(globex)

	for name, q := range map[string]*Queries{"DB": New(e.db), "Pool": New(e.db.Pool())} {
		if _, err := q.InsertItem(ctxA, "acme"); err != nil {
			t.Fatalf("%s: InsertItem(acme): %v", name, err)
		}
		if _, err := q.InsertItem(context.Background(), "none"); !errors.Is(err, tenancy.ErrNoTenant) {
			t.Fatalf("%s: InsertItem without a tenant: %v, want ErrNoTenant", name, err)
		}
	}
	prep, err := Prepare(ctxA, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer prep.countItemSt.Close()
	// The statement was prepared with acme's context; each execution runs in the
	// schema of its own context.
	if n, err := prep.CountItems(ctxA, "acme"); err != nil || n != 2 {
		t.Fatalf("prepared CountItems(acme) in acme = %d, %v; want 2", n, err)
	}
	if n, err := prep.CountItems(ctxG, "acme"); err != nil || n != 0 {
		t.Fatalf("prepared CountItems(acme) in globex = %d, %v; want 0", n, err)
	}
	if _, err := prep.CountItems(context.Background(), "acme"); !errors.Is(err, tenancy.ErrNoTenant) {
		t.Fatalf("prepared CountItems without a tenant: %v, want ErrNoTenant", err)
	}

	err = e.db.InTx(ctxG, nil, func(tx *tenancy.Tx) error {
		q := New(e.db).WithTx(tx.Tx.Tx)
		if _, err := q.InsertItem(context.Background(), "globex"); err != nil { // bound to globex
			return err
		}
		n, err := q.CountItems(ctxG, "globex")
		if err == nil && n != 1 {
			t.Errorf("in the transaction: %d globex items, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	var n int
	if err := e.admin.QueryRow(`SELECT (SELECT count(*) FROM acme.items WHERE tenant = 'acme') * 10 + (SELECT count(*) FROM globex.items)`).Scan(&n); err != nil || n != 21 {
		t.Fatalf("rows: %d (acme×10 + globex), %v; want 21", n, err)
	}
}
