package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/advisory"
	"kportal/modules/catalog"
	"kportal/modules/identity"
	"kportal/modules/plans"
	"kportal/storage"
	"kportal/tenants"
)

// DemoPassword is every demo user's password (development only).
const DemoPassword = "kportal-demo-2026"

// demoTenants are real organisations (names from ../shared/data/organisations).
var demoTenants = []tenants.Tenant{
	{Slug: "helse-bergen", Name: "Helse Bergen HF", Kind: tenants.KindHF, Orgnr: "983974724", RHFCode: "HV"},
	{Slug: "helse-forde", Name: "Helse Førde HF", Kind: tenants.KindHF, Orgnr: "983974732", RHFCode: "HV"},
	{Slug: "ous", Name: "Oslo universitetssykehus HF", Kind: tenants.KindHF, Orgnr: "993467049", RHFCode: "HSO"},
	{Slug: "bergen", Name: "Bergen kommune", Kind: tenants.KindKommune, Orgnr: "964338531", Kommunenummer: "4601"},
	{Slug: "unn", Name: "Universitetssykehuset Nord-Norge HF", Kind: tenants.KindHF, Orgnr: "983974899", RHFCode: "HN"},
	{Slug: "helsedirektoratet", Name: "Helsedirektoratet", Kind: tenants.KindNational},
}

type demoUser struct {
	Email, Given, Family string
	Roles                map[string][]string // tenant slug → roles
	Note                 string
	Platform             []tenants.PlatformRole
}

var demoUsers = []demoUser{
	{"kari.lis@demo.kportal.no", "Kari", "Nordmann", map[string][]string{"helse-bergen": {"lis"}}, "LIS, Helse Bergen", nil},
	{"sigrid.lis1@demo.kportal.no", "Sigrid", "Dahl", map[string][]string{"bergen": {"lis"}, "helse-bergen": {"lis"}}, "LIS1, Bergen kommune og Helse Bergen", nil},
	{"lars.lis1@demo.kportal.no", "Lars", "Eide", map[string][]string{"helse-bergen": {"lis"}}, "LIS1, flyttet fra Helse Bergen til Helse Førde", nil},
	{"hilde.leder@demo.kportal.no", "Hilde", "Vik", map[string][]string{"helse-forde": {"leder"}}, "leder, Helse Førde", nil},
	{"ola.supervisor@demo.kportal.no", "Ola", "Hansen", map[string][]string{"helse-bergen": {"supervisor"}}, "supervisør, Helse Bergen", nil},
	{"ingrid.veileder@demo.kportal.no", "Ingrid", "Berg", map[string][]string{"helse-bergen": {"veileder", "supervisor"}}, "veileder og supervisør, Helse Bergen", nil},
	{"per.leder@demo.kportal.no", "Per", "Johansen", map[string][]string{"helse-bergen": {"leder"}, "bergen": {"leder"}}, "leder, Helse Bergen og Bergen kommune", nil},
	{"nils.uao@demo.kportal.no", "Nils", "Moe", map[string][]string{"helse-bergen": {"uao"}}, "UAO, Helse Bergen", nil},
	{"astrid.admin@demo.kportal.no", "Astrid", "Lie", map[string][]string{"helse-bergen": {"tenant_admin"}, "helse-forde": {"tenant_admin"}, "bergen": {"tenant_admin"}, "ous": {"tenant_admin"}}, "administrator", nil},
	{"eva.rhf@demo.kportal.no", "Eva", "Solberg", nil, "RHF-administrator, Helse Vest RHF", []tenants.PlatformRole{{Role: tenants.RoleRHFAdmin, RHF: "HV"}}},
	{"hanne.hdir@demo.kportal.no", "Hanne", "Strand", nil, "Helsedirektoratet", []tenants.PlatformRole{{Role: tenants.RoleHdir}}},
	{"pal.drift@demo.kportal.no", "Pål", "Aas", nil, "plattformadministrator (API-nøkler)", []tenants.PlatformRole{{Role: tenants.RolePlatformAdmin}}},
}

// demoHPR are the demo LIS's HPR numbers (made up, in the format).
var demoHPR = map[string]string{
	"kari.lis@demo.kportal.no":    "9100101",
	"sigrid.lis1@demo.kportal.no": "9100102",
	"lars.lis1@demo.kportal.no":   "9100103",
}

func runSeed(ctx context.Context, cfg *config, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	national := fs.Bool("national", false, "create the national-size data set")
	scale := fs.Float64("scale", 1, "with --national: fraction of the 400 tenants (everything else scales with them)")
	benchUsers := fs.Int("bench-users", 100, "with --national: LIS and supervisors (each) given Kratos identities for kportal bench")
	jobs := fs.Int("jobs", 2, "with --national: tenants loaded at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kind := "demo"
	if *national {
		kind = "national"
	}
	if err := markSeeded(ctx, cfg, cfg.MigrateURL, kind); err != nil {
		return err
	}
	if *national {
		return runSeedNational(ctx, cfg, nationalOptions{Scale: *scale, BenchUsers: *benchUsers, Jobs: *jobs})
	}
	db, err := storage.OpenDB(ctx, cfg.MigrateURL, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	k := identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin)
	if err := k.Ping(ctx); err != nil {
		return fmt.Errorf("Ory Kratos at %s: %v", cfg.KratosAdmin, err)
	}
	reg, err := tenants.ReadRegistry(tenants.RefData())
	if err != nil {
		return err
	}
	if _, err := tenants.ImportRegistry(ctx, db, reg); err != nil {
		return fmt.Errorf("reference data: %w", err)
	}
	ids := map[string]uuid.UUID{}
	for _, t := range demoTenants {
		if err := db.NewRaw(`INSERT INTO tenants (slug, name, kind, status, orgnr, kommunenummer, rhf_code, registry_id)
			VALUES (?, ?, ?, 'active', nullif(?, ''), nullif(?, ''), nullif(?, ''),
				(SELECT id FROM org_registry WHERE orgnr = nullif(?, '')))
			ON CONFLICT (slug) DO UPDATE SET orgnr = EXCLUDED.orgnr, kommunenummer = EXCLUDED.kommunenummer,
				rhf_code = EXCLUDED.rhf_code, registry_id = EXCLUDED.registry_id
			RETURNING id`, t.Slug, t.Name, t.Kind, t.Orgnr, t.Kommunenummer, t.RHFCode, t.Orgnr).Scan(ctx, &t.ID); err != nil {
			return fmt.Errorf("tenant %s: %w", t.Slug, err)
		}
		ids[t.Slug] = t.ID
	}
	people := map[string]uuid.UUID{}
	for _, u := range demoUsers {
		id, err := k.EnsureIdentity(ctx, u.Email, u.Given, u.Family, DemoPassword)
		if err != nil {
			return err
		}
		idID, _ := uuid.Parse(id.Id)
		t := identity.TraitsOf(id)
		personID, err := identity.EnsurePerson(ctx, db, idID, t)
		if err != nil {
			return err
		}
		people[u.Email] = personID
		for _, pr := range u.Platform {
			if err := tenants.GrantPlatformRole(ctx, db, personID, pr.Role, pr.RHF); err != nil {
				return fmt.Errorf("platform role %s %s: %w", u.Email, pr.Role, err)
			}
		}
		for slug, roles := range u.Roles {
			for _, r := range roles {
				if err := tenants.AddMembership(ctx, db, ids[slug], personID, r); err != nil {
					return fmt.Errorf("membership %s %s: %w", u.Email, slug, err)
				}
			}
		}
	}
	// The demo LIS's HPR numbers (typed, as a tenant administrator would), so
	// Helsedirektoratet can find them by number; one someone has already is kept.
	for email, hpr := range demoHPR {
		if _, err := db.ExecContext(ctx, `UPDATE people SET hpr_number = ?, hpr_source = 'typed' WHERE id = ? AND hpr_number IS NULL
			AND NOT EXISTS (SELECT 1 FROM people WHERE hpr_number = ?)`, hpr, people[email], hpr); err != nil {
			return fmt.Errorf("HPR number of %s: %w", email, err)
		}
	}
	// Kari's people at Helse Bergen, and the UAO who follows her specialty.
	p := func(name string) uuid.UUID { return people[name+"@demo.kportal.no"] }
	seeder := tenants.Actor{Name: "demo"}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: ids["helse-bergen"]}, func(ctx context.Context, tx bun.Tx) error {
		hb := ids["helse-bergen"]
		for _, r := range []struct {
			kind, person string
		}{{"leder", "per.leder"}, {"veileder", "ingrid.veileder"}, {"supervisor", "ola.supervisor"}, {"supervisor", "ingrid.veileder"}} {
			if err := tenants.SetRelation(ctx, tx, hb, p("kari.lis"), r.kind, p(r.person), seeder); err != nil {
				return err
			}
		}
		if err := tenants.SetSpecialties(ctx, tx, hb, p("kari.lis"), "lis", []string{"ORT"}); err != nil {
			return err
		}
		return tenants.SetSpecialties(ctx, tx, hb, p("nils.uao"), "uao", []string{"ORT", "GEN"})
	})
	if err != nil {
		return fmt.Errorf("demo relations: %w", err)
	}
	if err := seedPlans(ctx, db, ids, p); err != nil {
		return fmt.Errorf("demo plans: %w", err)
	}
	if err := seedActivities(ctx, db, ids["helse-bergen"], p); err != nil {
		return fmt.Errorf("demo activities: %w", err)
	}
	if err := seedAdvisory(ctx, db, ids["helse-bergen"], p); err != nil {
		return fmt.Errorf("demo samtaler: %w", err)
	}
	if err := seedMove(ctx, db, ids, p); err != nil {
		return fmt.Errorf("demo arbeidsstedsbytte: %w", err)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Demo users (password %s):\n", DemoPassword)
	for _, u := range demoUsers {
		fmt.Fprintf(w, "  %s\t%s %s\t%s\n", u.Email, u.Given, u.Family, u.Note)
	}
	return w.Flush()
}

// DemoCatalog is the label of the catalogue version the demo seed publishes.
const DemoCatalog = "2026-1"

// seedPlans publishes the shipped catalogue as DemoCatalog and gives Helse
// Bergen arenas and an ORT plan (Kari's, from Per) and Bergen kommune an
// automatic LIS1 plan (Sigrid's). Each step is skipped when done already.
func seedPlans(ctx context.Context, db *bun.DB, ids map[string]uuid.UUID, p func(string) uuid.UUID) error {
	var version int
	err := db.NewRaw("SELECT id FROM catalog_versions WHERE label = ?", DemoCatalog).Scan(ctx, &version)
	if err != nil {
		set, err := catalog.Read(catalog.Data())
		if err != nil {
			return err
		}
		res, err := catalog.Import(ctx, db, set, DemoCatalog, "Demo: data fra shared/data/catalog (ingen måltekster)", uuid.Nil)
		if err != nil {
			return err
		}
		version = res.VersionID
	}
	if v, err := catalog.VersionByID(ctx, db, version); err != nil {
		return err
	} else if !v.Published() {
		if err := catalog.Publish(ctx, db, version, time.Now()); err != nil {
			return err
		}
	}
	hb, bergen := ids["helse-bergen"], ids["bergen"]
	arenas, err := plans.Arenas(ctx, db, hb)
	if err != nil {
		return err
	}
	arenaID := map[string]uuid.UUID{}
	for _, a := range arenas {
		arenaID[a.Name] = a.ID
	}
	for _, name := range []string{"Ortopedisk sengepost", "Poliklinikk", "Operasjonsstue"} {
		if _, ok := arenaID[name]; !ok {
			a, err := plans.CreateArena(ctx, db, hb, name, "")
			if err != nil {
				return err
			}
			arenaID[name] = a.ID
		}
	}
	template := func(tenant uuid.UUID, name string) (*plans.Template, error) {
		ts, err := plans.Templates(ctx, db, tenant)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.Name == name && t.ArchivedAt == nil {
				return &t, nil
			}
		}
		return nil, nil
	}
	ort, err := template(hb, "Ortopedisk kirurgi")
	if err != nil {
		return err
	}
	if ort == nil {
		ort = &plans.Template{Name: "Ortopedisk kirurgi", Specialty: "ORT", VersionID: version}
		if err := plans.SaveTemplate(ctx, db, hb, ort); err != nil {
			return err
		}
		procs, err := catalog.Procedures(ctx, db, version, "ORT")
		if err != nil {
			return err
		}
		theatre := arenaID["Operasjonsstue"]
		for _, pr := range procs {
			if err := plans.AddLocalActivity(ctx, db, hb, ort.ID, &plans.LocalActivity{Kind: "procedure", Name: pr.Name, ArenaID: &theatre,
				Required: pr.Assisted + pr.Performed + pr.AssistedOrPerformed}); err != nil {
				return err
			}
		}
	}
	kari := p("kari.lis")
	has, err := plans.Assignments(ctx, db, hb, []uuid.UUID{kari})
	if err != nil {
		return err
	}
	if !hasActive(has, ort.ID) {
		if _, err := plans.Assign(ctx, db, hb, tenants.Actor{PersonID: p("per.leder"), Name: "Per Johansen"}, kari, ort.ID); err != nil {
			return err
		}
	}
	lis1, err := template(bergen, "LIS1 kommunedel")
	if err != nil {
		return err
	}
	if lis1 == nil {
		goals, err := catalog.Goals(ctx, db, version, "KLK")
		if err != nil {
			return err
		}
		lis1 = &plans.Template{Name: "LIS1 kommunedel", Specialty: plans.LIS1, VersionID: version, AutoAssign: true}
		for _, g := range goals {
			lis1.Goals = append(lis1.Goals, plans.TemplateGoal{Code: g.Code})
		}
		if err := plans.SaveTemplate(ctx, db, bergen, lis1); err != nil {
			return err
		}
	}
	// Sigrid joined before the template existed: give her what a LIS who
	// joins now gets automatically.
	_, err = plans.AssignAutomatic(ctx, db, bergen, p("sigrid.lis1"))
	return err
}

func hasActive(as []plans.Assignment, template uuid.UUID) bool {
	for _, a := range as {
		if a.TemplateID == template && a.ArchivedAt == nil {
			return true
		}
	}
	return false
}

// seedActivities gives Kari procedures done: one request signed by Ola, one
// waiting in his queue. Only once: a LIS who has activities keeps them.
func seedActivities(ctx context.Context, db *bun.DB, tenantID uuid.UUID, p func(string) uuid.UUID) error {
	kari := tenants.Actor{PersonID: p("kari.lis"), Name: "Kari Nordmann"}
	ola := tenants.Actor{PersonID: p("ola.supervisor"), Name: "Ola Hansen"}
	store := activities.NewStore(db)
	if done, err := store.List(ctx, tenantID, kari.PersonID, "", ""); err != nil || len(done) > 0 {
		return err
	}
	procs, err := store.Procedures(ctx, tenantID, kari.PersonID, "")
	if err != nil || len(procs) < 2 {
		return err
	}
	day := time.Now().AddDate(0, 0, -7).Format("2006-01-02")
	signed, err := store.RegisterProcedures(ctx, tenantID, kari, ola.PersonID.String(), day,
		[]activities.Repetitions{{Key: procs[0].Key, Role: "performed", Count: 3}, {Key: procs[1].Key, Role: "assisted", Count: 2}})
	if err != nil {
		return err
	}
	if err := store.Decide(ctx, tenantID, ola, activities.DecisionSigned, []activities.Decision{{ActivityID: signed[0].ID, Comment: "Fint utført."}}); err != nil {
		return err
	}
	return nil
}

// seedAdvisory gives Kari two veiledningssamtaler with Ingrid: one completed
// seven months ago (so Kari shows as overdue to Ingrid and to Nils, the UAO)
// and one planned in two days without a forberedelse. Only once.
func seedAdvisory(ctx context.Context, db *bun.DB, tenantID uuid.UUID, p func(string) uuid.UUID) error {
	kari := tenants.Actor{PersonID: p("kari.lis"), Name: "Kari Nordmann"}
	ingrid := tenants.Actor{PersonID: p("ingrid.veileder"), Name: "Ingrid Berg"}
	store := advisory.NewStore(db)
	if held, err := store.List(ctx, tenantID, kari.PersonID); err != nil || len(held) > 0 {
		return err
	}
	day := func(d time.Time) string { return d.Format("2006-01-02") }
	earlier, err := store.Create(ctx, tenantID, ingrid, advisory.Plan{LisID: kari.PersonID.String(), Date: day(time.Now().AddDate(0, -7, 0)), Time: "14:00",
		Place: "Møterom 4, Ortopedisk avdeling", Topics: "Oppstart i spesialiseringen, mål for første halvår"})
	if err != nil {
		return err
	}
	for _, n := range []struct {
		who        tenants.Actor
		kind, text string
	}{
		{kari, advisory.KindPreparation, "Jeg vil gjerne få mer tid på operasjonsstua og lære meg artroskopi."},
		{ingrid, advisory.KindPreparation, "Gå gjennom prosedyrelisten og vaktplanen."},
		{ingrid, advisory.KindMinutes, "Avtalt: Kari assisterer på to artroskopier i uken. Ny samtale om et halvt år."},
	} {
		if err := store.SaveNote(ctx, tenantID, n.who, earlier.ID, n.kind, n.text); err != nil {
			return err
		}
	}
	if err := store.Complete(ctx, tenantID, ingrid, earlier.ID); err != nil {
		return err
	}
	_, err = store.Create(ctx, tenantID, ingrid, advisory.Plan{LisID: kari.PersonID.String(), Date: day(time.Now().AddDate(0, 0, 2)), Time: "10:00",
		Place: "https://video.helse-bergen.no/veiledning/ingrid", Topics: "Status for prosedyrene, vaktbelastning"})
	return err
}
