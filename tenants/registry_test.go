package tenants_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestShippedReferenceDataIsCompleteAndValid(t *testing.T) {
	r, err := tenants.ReadRegistry(tenants.RefData())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Bad) != 0 {
		t.Fatalf("bad rows in shipped data: %v", r.Bad)
	}
	kinds := map[tenants.Kind]int{}
	for _, o := range r.Orgs {
		kinds[o.Kind]++
	}
	if len(r.RHFs) != 4 || kinds[tenants.KindKommune] != 357 || kinds[tenants.KindHF]+kinds[tenants.KindPrivate] != 46 || kinds[tenants.KindPrivate] != 12 {
		t.Fatalf("RHF %d, kinds %v", len(r.RHFs), kinds)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].Reason, "1580 Haram") {
		t.Fatalf("warnings: %v", r.Warnings)
	}
}

func TestBadReferenceRowsAreReportedAndNothingIsImported(t *testing.T) {
	env := testenv.Get(t)
	files := fstest.MapFS{
		"rhf.csv":          {Data: []byte("code,name,orgnr\nHV,Helse Vest RHF,983658725\n")},
		"helseforetak.csv": {Data: []byte("orgnr,name,rhf_code,category\n983974724,Helse Bergen HF,HV,HF_pasientbehandling\n983974725,Feil kontrollsiffer HF,HV,HF_pasientbehandling\n983971636,Ukjent region HF,XX,HF_pasientbehandling\n")},
		"kommuner.csv":     {Data: []byte("kommunenummer,kommunenavn,fylkesnavn,orgnr\n4601,Bergen,Vestland,964338531\n46,Kort,Vestland,\n4601,Dobbel,Vestland,\n")},
	}
	r, err := tenants.ReadRegistry(files)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.Bad {
		got = append(got, p.String())
	}
	want := []string{
		"helseforetak.csv line 3: organisasjonsnummer \"983974725\" er ikke gyldig (mod-11)",
		"helseforetak.csv line 4: ukjent RHF \"XX\"",
		"kommuner.csv line 3: kommunenummer \"46\" må ha fire sifre",
		"kommuner.csv line 4: kommunenummer 4601 står to ganger",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rows := func() (n int) {
		// Other tests of the package may have imported the real data: compare.
		if err := env.Owner.NewRaw("SELECT count(*) FROM org_registry").Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := rows()
	if _, err := tenants.ImportRegistry(context.Background(), env.Owner, r); err == nil {
		t.Fatal("a registry with bad rows was imported")
	}
	if n := rows(); n != before {
		t.Fatalf("a refused import wrote %d rows", n-before)
	}
}

func TestImportReferenceDataTwice(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	r, err := tenants.ReadRegistry(tenants.RefData())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		res, err := tenants.ImportRegistry(ctx, env.Owner, r)
		if err != nil || res.RHFs != 4 || res.Orgs != 403 {
			t.Fatalf("import %d: %+v %v", i, res, err)
		}
	}
	var kommuner, bergenHV int
	if err := env.App.NewRaw("SELECT count(*) FROM org_registry WHERE kind = 'kommune'").Scan(ctx, &kommuner); err != nil || kommuner != 357 {
		t.Fatalf("kommuner: %d %v", kommuner, err)
	}
	if err := env.App.NewRaw("SELECT count(*) FROM org_registry WHERE orgnr = '983974724' AND rhf_code = 'HV'").Scan(ctx, &bergenHV); err != nil || bergenHV != 1 {
		t.Fatalf("Helse Bergen under Helse Vest: %d %v", bergenHV, err)
	}
	if _, err := env.App.ExecContext(ctx, "DELETE FROM org_registry"); err == nil {
		t.Fatal("the application role may change reference data")
	}
}
