package tenancypgx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy/tenancypgx"
)

// DBTX is the interface sqlc generates for pgx/v5 (sql_package: pgx/v5) when
// queries use :copyfrom and :batch* as well as :one, :many and :exec.
type DBTX interface {
	Exec(context.Context, string, ...interface{}) (pgconn.CommandTag, error)
	Query(context.Context, string, ...interface{}) (pgx.Rows, error)
	QueryRow(context.Context, string, ...interface{}) pgx.Row
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}

var (
	_ DBTX = (*tenancypgx.Pool)(nil)
	_ DBTX = (*tenancypgx.Tx)(nil)
)

// What follows is written the way sqlc emits it (db.go, models.go, query.sql.go,
// copyfrom.go), for the items table of the test tenants.

type Queries struct {
	db DBTX
}

func NewQueries(db DBTX) *Queries {
	return &Queries{db: db}
}

type Item struct {
	ID   int32
	Name string
}

const getItem = `-- name: GetItem :one
SELECT id, name FROM items
WHERE id = $1 LIMIT 1
`

func (q *Queries) GetItem(ctx context.Context, id int32) (Item, error) {
	row := q.db.QueryRow(ctx, getItem, id)
	var i Item
	err := row.Scan(&i.ID, &i.Name)
	return i, err
}

const listItems = `-- name: ListItems :many
SELECT id, name FROM items
ORDER BY id
`

func (q *Queries) ListItems(ctx context.Context) ([]Item, error) {
	rows, err := q.db.Query(ctx, listItems)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []Item
	for rows.Next() {
		var i Item
		if err := rows.Scan(&i.ID, &i.Name); err != nil {
			return nil, err
		}
		items = append(items, i)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return items, nil
}

const createItem = `-- name: CreateItem :exec
INSERT INTO items (id, name) VALUES ($1, $2)
`

type CreateItemParams struct {
	ID   int32
	Name string
}

func (q *Queries) CreateItem(ctx context.Context, arg CreateItemParams) error {
	_, err := q.db.Exec(ctx, createItem, arg.ID, arg.Name)
	return err
}

const deleteItemsAbove = `-- name: DeleteItemsAbove :execrows
DELETE FROM items WHERE id > $1
`

func (q *Queries) DeleteItemsAbove(ctx context.Context, id int32) (int64, error) {
	result, err := q.db.Exec(ctx, deleteItemsAbove, id)
	if err != nil {
		return 0, err
	}
	return result.RowsAffected(), nil
}

type CopyItemsParams struct {
	ID   int32
	Name string
}

// iteratorForCopyItems implements pgx.CopyFromSource.
type iteratorForCopyItems struct {
	rows                 []CopyItemsParams
	skippedFirstNextCall bool
}

func (r *iteratorForCopyItems) Next() bool {
	if len(r.rows) == 0 {
		return false
	}
	if !r.skippedFirstNextCall {
		r.skippedFirstNextCall = true
		return true
	}
	r.rows = r.rows[1:]
	return len(r.rows) > 0
}

func (r iteratorForCopyItems) Values() ([]interface{}, error) {
	return []interface{}{
		r.rows[0].ID,
		r.rows[0].Name,
	}, nil
}

func (r iteratorForCopyItems) Err() error {
	return nil
}

func (q *Queries) CopyItems(ctx context.Context, arg []CopyItemsParams) (int64, error) {
	return q.db.CopyFrom(ctx, []string{"items"}, []string{"id", "name"}, &iteratorForCopyItems{rows: arg})
}

// sqlc-generated code runs tenant-scoped through a Pool and a Tx.
func TestSqlcGeneratedCode(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 2, nil, pgx.QueryExecModeCacheStatement, tenancypgx.WithMode(m.mode))
			q := NewQueries(p)
			for _, s := range []string{acme, globex} {
				ctx := ctxFor(s)
				it, err := q.GetItem(ctx, 1)
				if err != nil || it.Name != s+"-1" {
					t.Fatalf("%s GetItem: %+v, %v", s, it, err)
				}
				if err := q.CreateItem(ctx, CreateItemParams{ID: 100, Name: s + "-100"}); err != nil {
					t.Fatal(err)
				}
				n, err := q.CopyItems(ctx, []CopyItemsParams{{101, s + "-101"}, {102, s + "-102"}})
				if err != nil || n != 2 {
					t.Fatalf("%s CopyItems: %d, %v", s, n, err)
				}
				items, err := q.ListItems(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					if len(it.Name) < len(s) || it.Name[:len(s)] != s {
						t.Errorf("%s listed %+v", s, it)
					}
				}
				if len(items) != len(e.wantItems(t, s)) {
					t.Errorf("%s listed %d items, has %d", s, len(items), len(e.wantItems(t, s)))
				}
				// In a transaction that rolls back.
				tx, err := p.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				qtx := NewQueries(tx)
				if n, err := qtx.DeleteItemsAbove(ctx, 99); err != nil || n != 3 {
					t.Errorf("%s delete in tx: %d, %v", s, n, err)
				}
				if _, err := qtx.CopyItems(ctx, []CopyItemsParams{{200, s + "-200"}}); err != nil {
					t.Error(err)
				}
				if err := tx.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				if n, err := q.DeleteItemsAbove(ctx, 99); err != nil || n != 3 {
					t.Errorf("%s delete: %d, %v", s, n, err)
				}
			}
		})
	}
}
