package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/tenants"
)

// kportal bench dossier at a tiny scale: the richest LIS's dossier and API
// record are measured, and afterwards the data set is exactly as before: the
// goals it approved, the HPR number it gave, its API key and every access
// log row its reads wrote are gone; a second run finds nothing left over.
func TestDossierBenchRestoresTheDataSet(t *testing.T) {
	cfg, _, owner := freshDatabase(t)
	setEnv(t, cfg)
	var out, errb bytes.Buffer
	if code := run([]string{"seed", "--national", "--scale", "0.001", "--bench-users", "1"}, &out, &errb); code != 0 {
		t.Fatalf("seed --national: exit %d\n%s%s", code, out.String(), errb.String())
	}
	ctx := context.Background()
	before := dossierSnapshot(t, owner)
	opts := dossierOptions{Goals: 300, PDFRuns: 2, Measure: 300 * time.Millisecond, Clients: 2}
	for range 2 {
		var notes bytes.Buffer
		kv, err := runDossierBench(ctx, cfg, opts, &notes)
		if err != nil {
			t.Fatal(err)
		}
		line := benchLine("dossier", kv) + " "
		t.Log(line, notes.String())
		for _, want := range []string{" pdf_ms_p50=", " pdf_ms_p99=", " api_p99_ms=", " api_rps=", " baseline_rps=", " ratio=", " goals=", " activities="} {
			if !strings.Contains(line, want) {
				t.Fatalf("%q not in %s", want, line)
			}
		}
		if strings.Contains(line, " goals=0 ") {
			t.Fatalf("no approved goals measured: %s", line)
		}
		if after := dossierSnapshot(t, owner); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("after the run: %v\nbefore: %v", after, before)
		}
	}
}

// dossierSnapshot fingerprints, as the owner, every row the bench writes:
// goal_progress per tenant, people (their HPR numbers), the API keys and
// their audit, and the access log (row security lifted in a transaction that
// is rolled back).
func dossierSnapshot(t *testing.T, owner *bun.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var ids []uuid.UUID
	if err := owner.NewRaw("SELECT id FROM tenants ORDER BY id").Scan(ctx, &ids); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		var sum string
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: id}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw(`SELECT count(*) || ' ' || coalesce(md5(string_agg(id::text || status || coalesce(decided_at::text, '-'), ',' ORDER BY id)), '')
				FROM goal_progress`).Scan(ctx, &sum)
		})
		if err != nil {
			t.Fatal(err)
		}
		out[id.String()] = sum
	}
	var people string
	if err := owner.NewRaw(`SELECT md5(string_agg(id::text || coalesce(hpr_number, '-') || coalesce(hpr_source, '-'), ',' ORDER BY id)) FROM people`).Scan(ctx, &people); err != nil {
		t.Fatal(err)
	}
	out["people"] = people
	var keys, audit, reads int
	err := owner.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.api_keys_admin', 'on', true)"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE access_log NO FORCE ROW LEVEL SECURITY"); err != nil {
			return err
		}
		if err := tx.NewRaw("SELECT (SELECT count(*) FROM api_keys), (SELECT count(*) FROM api_key_audit), (SELECT count(*) FROM access_log)").Scan(ctx, &keys, &audit, &reads); err != nil {
			return err
		}
		return sql.ErrTxDone // roll back: row security stays forced
	})
	if err != sql.ErrTxDone {
		t.Fatal(err)
	}
	out["api_keys"], out["api_key_audit"], out["access_log"] = fmt.Sprint(keys), fmt.Sprint(audit), fmt.Sprint(reads)
	return out
}
