package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-tenancy/tenancy"
)

// migrationTimeout bounds a migration started through the admin API.
const migrationTimeout = 10 * time.Minute

// tenantView is a tenant with its migration state.
type tenantView struct {
	tenancy.Tenant
	Version uint `json:"version"`
	Head    uint `json:"head"`
	Pending int  `json:"pending"`
	Dirty   bool `json:"dirty"`
}

func newTenantView(t tenancy.Tenant, st tenancy.Status) tenantView {
	return tenantView{Tenant: t, Version: st.Version, Head: st.Head, Pending: st.Pending, Dirty: st.Dirty}
}

// createTenantRequest is the body of POST /tenants.
type createTenantRequest struct {
	Name   string `json:"name"`
	Schema string `json:"schema"`
	Host   string `json:"host"`
}

func (a *app) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req createTenantRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	// Check everything before anything is sent, and say what is wrong.
	switch n := utf8.RuneCountInString(req.Name); {
	case strings.TrimSpace(req.Name) == "":
		return errorf(http.StatusBadRequest, "Field \"name\" is required.")
	case n > tenancy.MaxTenantNameLen:
		return errorf(http.StatusBadRequest, "Field \"name\" is %d characters long; at most %d are allowed.", n, tenancy.MaxTenantNameLen)
	case strings.IndexFunc(req.Name, unicode.IsControl) >= 0:
		return errorf(http.StatusBadRequest, "Field \"name\" contains control characters.")
	}
	if err := a.db.ValidateSchemaName(req.Schema); err != nil {
		return tenantInputError(err)
	}
	if req.Host != "" {
		if _, err := tenancy.NormalizeHost(req.Host); err != nil {
			return tenantInputError(err)
		}
	}
	t, err := a.mig.CreateTenant(r.Context(), tenancy.NewTenant{Name: req.Name, Schema: req.Schema, Host: req.Host})
	if err != nil {
		return tenantInputError(err)
	}
	st, err := a.mig.Status(r.Context(), t.Schema)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/tenants/"+t.Schema)
	writeJSON(w, http.StatusCreated, newTenantView(t, st))
	return nil
}

// tenantInputError answers the errors of a tenant's name, schema or host.
func tenantInputError(err error) error {
	var (
		sne *tenancy.SchemaNameError
		he  *tenancy.HostError
		ce  *tenancy.ConflictError
	)
	switch {
	case errors.As(err, &sne):
		return errorf(http.StatusBadRequest, "Invalid schema name %q: %s.", clip(sne.Name), sne.Reason)
	case errors.As(err, &he):
		return errorf(http.StatusBadRequest, "Invalid host %q: %s.", clip(he.Host), he.Reason)
	case errors.As(err, &ce) && ce.Field != "":
		return errorf(http.StatusConflict, "A tenant with %s %q already exists.", ce.Field, clip(ce.Value))
	case errors.Is(err, tenancy.ErrConflict):
		return errorf(http.StatusConflict, "A tenant with this name, schema or host already exists.")
	case errors.Is(err, tenancy.ErrSchemaExists):
		return errorf(http.StatusConflict, "The schema already exists in the database but belongs to no tenant.")
	}
	return err
}

func (a *app) listTenants(w http.ResponseWriter, r *http.Request) error {
	after, err := queryInt(r, "after_id", 0, 0, 1<<63-1)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	ts, err := a.reg.List(r.Context(), tenancy.ListOptions{AfterID: after, Limit: int(limit)})
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []tenancy.Tenant{}
	}
	if len(ts) == int(limit) {
		setNextLink(w, r, ts[len(ts)-1].ID)
	}
	writeJSON(w, http.StatusOK, ts)
	return nil
}

func (a *app) getTenant(w http.ResponseWriter, r *http.Request) error {
	schema := r.PathValue("schema")
	// Get bypasses the registry cache: the admin API shows the database's truth.
	t, err := a.reg.Get(r.Context(), tenancy.SchemaKey(schema))
	if err != nil {
		return a.migrationError(r, err, schema, true)
	}
	st, err := a.mig.Status(r.Context(), schema)
	if err != nil {
		return a.migrationError(r, err, schema, true)
	}
	writeJSON(w, http.StatusOK, newTenantView(t, st))
	return nil
}

func (a *app) dropTenant(w http.ResponseWriter, r *http.Request) error {
	schema := r.PathValue("schema")
	if err := a.mig.DropTenant(r.Context(), schema); err != nil {
		return a.migrationError(r, err, schema, false)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resultView is what one migration run did.
type resultView struct {
	Schema     string  `json:"schema"`
	From       uint    `json:"from"`
	To         uint    `json:"to"`
	Applied    []uint  `json:"applied"`
	Dirty      bool    `json:"dirty"`
	DurationMS float64 `json:"duration_ms"`
}

func newResultView(r tenancy.Result) resultView {
	applied := r.Applied
	if applied == nil {
		applied = []uint{}
	}
	return resultView{Schema: r.Schema, From: r.From, To: r.To, Applied: applied, Dirty: r.Dirty, DurationMS: millis(r.Duration)}
}

// planView is a dry run: what would run, with the SQL.
type planView struct {
	DryRun bool       `json:"dry_run"`
	Schema string     `json:"schema"`
	From   uint       `json:"from"`
	To     uint       `json:"to"`
	Steps  []stepView `json:"steps"`
}

type stepView struct {
	Version   uint   `json:"version"`
	Name      string `json:"name"`
	Direction string `json:"direction"` // "up" or "down"
	SQL       string `json:"sql"`
}

func newPlanView(p tenancy.Plan) planView {
	v := planView{DryRun: true, Schema: p.Schema, From: p.From, To: p.To, Steps: []stepView{}}
	for _, s := range p.Steps {
		dir := "up"
		if s.Down {
			dir = "down"
		}
		v.Steps = append(v.Steps, stepView{Version: s.Version, Name: s.Name, Direction: dir, SQL: s.SQL})
	}
	return v
}

// upgradeTenant is POST /tenants/{schema}/upgrade[?version=N][&dry_run=true].
func (a *app) upgradeTenant(w http.ResponseWriter, r *http.Request) error {
	schema := r.PathValue("schema")
	if schema == a.db.SharedSchema() {
		// The shared schema is migrated at start-up (and by the CLI), not here.
		return errorf(http.StatusNotFound, "There is no tenant with schema %q.", clip(schema))
	}
	version, err := queryInt(r, "version", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	dryRun, err := queryBool(r, "dry_run")
	if err != nil {
		return err
	}
	// The plan checks the tenant, the version and the dirty flag without
	// changing anything; it is also the dry run's answer.
	plan, err := a.mig.Plan(r.Context(), schema, uint(version))
	if err != nil {
		return a.migrationError(r, err, schema, true)
	}
	if plan.To < plan.From {
		// Plan would revert; an upgrade never does.
		plan.To, plan.Steps = plan.From, nil
	}
	if dryRun {
		writeJSON(w, http.StatusOK, newPlanView(plan))
		return nil
	}
	ctx, cancel := detached(w, r)
	defer cancel()
	res, err := a.mig.UpgradeTo(ctx, schema, uint(version))
	if err != nil {
		return a.migrationError(r, err, schema, false)
	}
	writeJSON(w, http.StatusOK, newResultView(res))
	return nil
}

// downgradeTenant is POST /tenants/{schema}/downgrade[?steps=N][&dry_run=true].
func (a *app) downgradeTenant(w http.ResponseWriter, r *http.Request) error {
	schema := r.PathValue("schema")
	if schema == a.db.SharedSchema() {
		return errorf(http.StatusNotFound, "There is no tenant with schema %q.", clip(schema))
	}
	steps, err := queryInt(r, "steps", 1, 1, 1000)
	if err != nil {
		return err
	}
	dryRun, err := queryBool(r, "dry_run")
	if err != nil {
		return err
	}
	plan, err := a.mig.PlanDowngrade(r.Context(), schema, int(steps))
	if err != nil {
		return a.migrationError(r, err, schema, true)
	}
	if dryRun {
		writeJSON(w, http.StatusOK, newPlanView(plan))
		return nil
	}
	ctx, cancel := detached(w, r)
	defer cancel()
	res, err := a.mig.Downgrade(ctx, schema, int(steps))
	if err != nil {
		return a.migrationError(r, err, schema, false)
	}
	writeJSON(w, http.StatusOK, newResultView(res))
	return nil
}

// fleetView is a fleet upgrade's report.
type fleetView struct {
	Shared     resultView        `json:"shared"`
	Tenants    []tenantRunResult `json:"tenants"`
	Upgraded   int               `json:"upgraded"`
	Skipped    int               `json:"skipped"`
	Failed     int               `json:"failed"`
	NotRun     int               `json:"not_run"`
	DurationMS float64           `json:"duration_ms"`
}

type tenantRunResult struct {
	resultView
	TenantID int64  `json:"tenant_id"`
	Outcome  string `json:"outcome"` // upgraded, skipped, failed, not_run
	Error    string `json:"error,omitempty"`
}

// upgradeFleet is POST /tenants/upgrade[?version=N][&tenants=a,b][&concurrency=N]:
// every tenant (or the listed ones) to the newest migration (or version). It
// answers 200 with the per-tenant report whenever the run got to the tenants,
// also when some failed: "failed" and each tenant's "outcome" say so.
func (a *app) upgradeFleet(w http.ResponseWriter, r *http.Request) error {
	version, err := queryInt(r, "version", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	conc, err := queryInt(r, "concurrency", 0, 0, 64)
	if err != nil {
		return err
	}
	opts := tenancy.FleetOptions{Target: uint(version), Concurrency: int(conc)}
	if list := r.URL.Query().Get("tenants"); list != "" {
		for _, s := range strings.Split(list, ",") {
			if s = strings.TrimSpace(s); s != "" {
				opts.Schemas = append(opts.Schemas, s)
			}
		}
	}
	ctx, cancel := detached(w, r)
	defer cancel()
	rep, err := a.mig.UpgradeFleet(ctx, opts)
	var fe *tenancy.FleetError
	if err != nil && !errors.As(err, &fe) && len(rep.Tenants) == 0 {
		return a.migrationError(r, err, "", false)
	}
	v := fleetView{Shared: newResultView(rep.Shared), Tenants: make([]tenantRunResult, 0, len(rep.Tenants)),
		Upgraded: rep.Upgraded, Skipped: rep.Skipped, Failed: rep.Failed, NotRun: rep.NotRun, DurationMS: millis(rep.Duration)}
	if v.Shared.Schema == "" {
		v.Shared.Schema = a.db.SharedSchema()
	}
	for _, tr := range rep.Tenants {
		out := tenantRunResult{resultView: newResultView(tr.Result), TenantID: tr.TenantID, Outcome: "upgraded"}
		switch {
		case tr.Err == context.Canceled || tr.Err == context.DeadlineExceeded: //nolint:errorlint // the bare sentinel marks a tenant not run
			out.Outcome = "not_run"
		case tr.Err != nil:
			out.Outcome, out.Error = "failed", tr.Err.Error()
		case tr.Skipped:
			out.Outcome = "skipped"
		}
		v.Tenants = append(v.Tenants, out)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// migrationError answers the errors of the Migrator. planning says the error
// came from a check that changes nothing (Plan, PlanDowngrade, Status): its
// remaining MigrationErrors are the request's fault (422), while those of a run
// are the migration's own failure (500, with the library's message, which never
// includes SQL: the admin API's callers are operators).
func (a *app) migrationError(r *http.Request, err error, schema string, planning bool) error {
	var me *tenancy.MigrationError
	switch {
	case errors.Is(err, tenancy.ErrRegistryUnavailable):
		return err
	case errors.Is(err, tenancy.ErrUnknownTenant), errors.Is(err, tenancy.ErrInvalidSchemaName):
		return errorf(http.StatusNotFound, "There is no tenant with schema %q.", clip(schema))
	case errors.Is(err, tenancy.ErrDirty):
		v := uint(0)
		if errors.As(err, &me) {
			v = me.Version
		}
		return errorf(tenancy.StatusCode(err), "Schema %q is dirty at version %d: a migration failed part-way. "+
			"Repair it by hand, then record the version it is really at (CLI: force %s <version>).", schema, v, schema)
	case errors.Is(err, tenancy.ErrLocked):
		return errorf(tenancy.StatusCode(err), "Another migration of this schema is running. Try again when it has finished.")
	case errors.Is(err, tenancy.ErrUnknownVersion), errors.Is(err, tenancy.ErrIrreversible):
		// tenancy.StatusCode has the library's mapping (422, 409); the message
		// is the library's, which names the version.
		return errorf(tenancy.StatusCode(err), "%s", err.Error())
	case errors.As(err, &me) && planning:
		return errorf(http.StatusUnprocessableEntity, "%s", err.Error())
	case errors.As(err, &me) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		a.log.ErrorContext(r.Context(), "migration failed", "schema", me.Schema, "err", err)
		return errorf(http.StatusInternalServerError, "%s", err.Error())
	}
	return err
}

// detached returns the context for a migration started by a request: the
// request's values without its cancellation, bounded by migrationTimeout. A
// client that hangs up must not cancel a migration half-way: that would leave
// the tenant dirty. It also moves the response's write deadline past the
// server's WriteTimeout, which is sized for ordinary requests.
func detached(w http.ResponseWriter, r *http.Request) (context.Context, context.CancelFunc) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(migrationTimeout + 10*time.Second))
	return context.WithTimeout(context.WithoutCancel(r.Context()), migrationTimeout)
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
