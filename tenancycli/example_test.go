package tenancycli_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/lib/pq" // the "postgres" driver

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancycli"
)

// An application's main function that is also its migration CLI:
//
//	myapp status
//	myapp fleet-upgrade --concurrency 8
//	myapp serve
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if len(os.Args) > 1 && tenancycli.IsCommand(os.Args[1]) {
		db, err := tenancy.Open("postgres", os.Getenv("DATABASE_URL"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(tenancycli.ExitFailure)
		}
		reg, err := tenancy.NewRegistry(db)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(tenancycli.ExitFailure)
		}
		m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(tenancycli.ExitFailure)
		}
		code := tenancycli.Main(ctx, os.Args[1:], tenancycli.Config{
			Migrator: m, Registry: reg, Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Name: "myapp",
		})
		db.Close()
		stop()
		os.Exit(code)
	}
	// ... otherwise serve HTTP.
}
