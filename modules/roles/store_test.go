package roles

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/identity"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func newTenant(t *testing.T, name string) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, testenv.Get(t).Owner, &tenants.Tenant{Name: name})
}

// newMember makes a person row (no Kratos identity is needed for a person
// who exists already) with a role in tn, or in no tenant when tn is nil.
func newMember(t *testing.T, given string, tn *tenants.Tenant, role string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	env := testenv.Get(t)
	email := testenv.UniqueEmail(given)
	var tr identity.Traits
	tr.Email, tr.Name.Given, tr.Name.Family = email, given, "Testesen"
	id, err := identity.EnsurePerson(ctx, env.App, uuid.New(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if tn != nil {
		if err := tenants.AddMembership(ctx, env.App, tn.ID, id, role); err != nil {
			t.Fatal(err)
		}
	}
	return id, email
}

func newStore(t *testing.T) *Store {
	return NewStore(testenv.Get(t).App, identity.NewKratos(testenv.KratosPublic, testenv.KratosAdmin))
}

// counts is what a tenant holds: memberships, relations, audit entries.
type counts struct{ memberships, relations, audit int }

func countTenant(t *testing.T, tenantID uuid.UUID) counts {
	t.Helper()
	var c counts
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []struct {
			table string
			n     *int
		}{{"memberships", &c.memberships}, {"relations", &c.relations}, {"audit_log", &c.audit}} {
			if err := tx.NewRaw("SELECT count(*) FROM ? WHERE tenant_id = ?", bun.Ident(q.table), tenantID).Scan(ctx, q.n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func countPeople(t *testing.T, emails ...string) int {
	t.Helper()
	var n int
	if err := testenv.Get(t).App.NewRaw("SELECT count(*) FROM people WHERE lower(email) IN (?)", bun.In(emails)).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func randomHPR() string { return fmt.Sprintf("%d", 10000000+uuid.New().ID()%89999999) }

// An import with one bad line writes nothing (no person, membership,
// relation or audit entry); the corrected file writes everything, relations
// included, in one go; importing it again changes nothing.
func TestImportAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tn := newTenant(t, "Helse Import HF")
	adminID, _ := newMember(t, "Admin", tn, "tenant_admin")
	admin := tenants.Actor{PersonID: adminID, Name: "Admin Testesen"}
	lederID, lederEmail := newMember(t, "Leder", tn, "leder")

	sup, vei, lis := testenv.UniqueEmail("sup"), testenv.UniqueEmail("vei"), testenv.UniqueEmail("lis")
	hpr := randomHPR()
	good := "epost;fornavn;etternavn;hpr;roller;leder_epost;veileder_epost\n" +
		sup + ";Siri;Supervisør;;supervisor;;\n" +
		vei + ";Vera;Veileder;;veileder supervisor;;\n" +
		lis + ";Lise;Lege;" + hpr + ";lis;" + lederEmail + ";" + vei + "\n"
	bad := good + testenv.UniqueEmail("bad") + ";Bjørn;Feil;;overlege;;\n"

	before := countTenant(t, tn.ID)
	rows, problems := ParseCSV([]byte(bad))
	if problems != nil {
		t.Fatal(problems)
	}
	res, problems, err := s.Import(ctx, tn.ID, admin, rows, SourceCSV)
	if err != nil || res != nil || len(problems) != 1 || problems[0].Line != 5 || !strings.Contains(problems[0].String(), "Linje 5: Ukjent rolle «overlege»") {
		t.Fatalf("bad file: %v %v %v", res, problems, err)
	}
	if after := countTenant(t, tn.ID); after != before {
		t.Fatalf("a refused import changed the tenant: %+v → %+v", before, after)
	}
	if n := countPeople(t, sup, vei, lis); n != 0 {
		t.Fatalf("a refused import made %d people", n)
	}

	rows, _ = ParseCSV([]byte(good))
	res, problems, err = s.Import(ctx, tn.ID, admin, rows, SourceCSV)
	if err != nil || problems != nil {
		t.Fatalf("good file: %v %v", problems, err)
	}
	if res.PeopleAdded != 3 || res.RolesGranted != 4 {
		t.Fatalf("result %+v, want 3 people and 4 roles", res)
	}
	after := countTenant(t, tn.ID)
	// 4 roles; 2 relations; audit: 4 role.granted + 3 person.imported +
	// 1 person.edited (HPR) + 2 relation.added.
	if after.memberships != before.memberships+4 || after.relations != 2 || after.audit != before.audit+10 {
		t.Fatalf("after import: %+v (before %+v)", after, before)
	}
	m, err := s.Member(ctx, tn.ID, res.IDs[lis])
	if err != nil {
		t.Fatal(err)
	}
	if m.HPR != hpr || m.GivenName != "Lise" || m.Leder == nil || m.Leder.PersonID != lederID || m.Veileder == nil || m.Veileder.PersonID != res.IDs[vei] || !m.IsLIS() {
		t.Fatalf("LIS after import: %+v", m)
	}
	v, _ := s.Member(ctx, tn.ID, res.IDs[vei])
	if !slices.Equal(v.Roles, []string{"veileder", "supervisor"}) || len(v.Follows) != 1 {
		t.Fatalf("veileder: %+v", v)
	}
	// Kratos has the new people, named from the file, without a password.
	id, err := identity.NewKratos(testenv.KratosPublic, testenv.KratosAdmin).EnsureIdentity(ctx, sup, "", "", "")
	if err != nil || identity.TraitsOf(id).Name.Given != "Siri" {
		t.Fatalf("identity of %s: %+v %v", sup, id, err)
	}

	res, problems, err = s.Import(ctx, tn.ID, admin, rows, SourceCSV)
	if err != nil || problems != nil || res.PeopleAdded != 0 || res.RolesGranted != 0 {
		t.Fatalf("second import: %+v %v %v", res, problems, err)
	}
	if again := countTenant(t, tn.ID); again.memberships != after.memberships || again.relations != after.relations {
		t.Fatalf("second import changed roles or relations: %+v → %+v", after, again)
	}
}

// The add form: one person with roles, HPR and specialties; a clashing HPR
// number is refused with a message on the field; changes on the person page.
func TestAddPersonAndChange(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tn := newTenant(t, "Helse Skjema HF")
	adminID, _ := newMember(t, "Admin", tn, "tenant_admin")
	admin := tenants.Actor{PersonID: adminID, Name: "Admin Testesen"}
	lederID, lederEmail := newMember(t, "Leder", tn, "leder")
	supID, _ := newMember(t, "Sup", tn, "supervisor")
	hpr := randomHPR()

	email := testenv.UniqueEmail("Ny")
	row := ImportRow{Email: strings.ToUpper(email), GivenName: "Nina", FamilyName: "Ny", HPR: hpr, Roles: []string{"lis"}, LederEmail: lederEmail, LISSpecialties: "ane ped"}
	res, problems, err := s.Import(ctx, tn.ID, admin, []ImportRow{row}, SourceForm)
	if err != nil || problems != nil {
		t.Fatalf("add: %v %v", problems, err)
	}
	id := res.IDs[email]
	m, err := s.Member(ctx, tn.ID, id)
	if err != nil || m.HPR != hpr || !slices.Equal(m.LISSpecialties, []string{"ANE", "PED"}) || m.Leder == nil || m.Leder.PersonID != lederID {
		t.Fatalf("added: %+v %v", m, err)
	}

	other := ImportRow{Email: testenv.UniqueEmail("Annen"), GivenName: "Anne", FamilyName: "Annen", HPR: hpr, Roles: []string{"supervisor"}}
	_, problems, err = s.Import(ctx, tn.ID, admin, []ImportRow{other}, SourceForm)
	if err != nil || len(problems) != 1 || problems[0].Field != "hpr" || !strings.Contains(problems[0].Message, "allerede registrert på en annen person") {
		t.Fatalf("HPR clash: %v %v", problems, err)
	}
	otherID, _ := newMember(t, "Annen", tn, "supervisor")
	if err := s.SetHPR(ctx, tn.ID, admin, otherID, hpr); !strings.Contains(apperr.FieldsOf(err)["hpr"], "allerede registrert") {
		t.Fatalf("SetHPR clash: %v", err)
	}

	if err := s.AddSupervisor(ctx, tn.ID, admin, id, supID); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSupervisor(ctx, tn.ID, admin, id, lederID); apperr.FieldsOf(err)["supervisor"] == "" {
		t.Fatalf("a leder without the supervisor role became supervisor: %v", err)
	}
	if err := s.SetLeaders(ctx, tn.ID, admin, id, uuid.Nil, supID); apperr.FieldsOf(err)["veileder"] == "" {
		t.Fatalf("a supervisor without the veileder role became veileder: %v", err)
	}
	if m, _ := s.Member(ctx, tn.ID, id); m.Leder == nil {
		t.Fatal("a refused change removed the leder")
	}
	if err := s.SetLeaders(ctx, tn.ID, admin, id, uuid.Nil, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSpecialties(ctx, tn.ID, admin, id, "GER", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoles(ctx, tn.ID, admin, id, []string{"lis", "uao"}); err != nil {
		t.Fatal(err)
	}
	m, _ = s.Member(ctx, tn.ID, id)
	if m.Leder != nil || len(m.Supervisors) != 1 || !slices.Equal(m.LISSpecialties, []string{"GER"}) || !slices.Equal(m.Roles, []string{"lis", "uao"}) {
		t.Fatalf("after changes: %+v", m)
	}
	if err := s.SetRoles(ctx, tn.ID, admin, adminID, []string{"leder"}); !strings.Contains(apperr.FieldsOf(err)["roles"], "minst én administrator") {
		t.Fatalf("the last administrator lost the role: %v", err)
	}
	if err := s.SetRoles(ctx, tn.ID, admin, id, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Member(ctx, tn.ID, id); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a person without roles is still in the tenant: %v", err)
	}
	log, err := tenants.AuditLog(ctx, testenv.Get(t).App, tn.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{tenants.AuditRoleGranted, tenants.AuditRoleRevoked, tenants.AuditRelationAdded, tenants.AuditRelationRemoved, tenants.AuditPersonDetailsEdited} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log lacks %s: %v", want, actions)
		}
	}
}

// Tenant B's administrator cannot see or change a person of tenant A through
// B, nor name A's leder in an import to B; B's log holds nothing of A.
func TestIsolationRolesStore(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, b := newTenant(t, "Helse A HF"), newTenant(t, "Helse B HF")
	adminA, _ := newMember(t, "AdminA", a, "tenant_admin")
	adminB, _ := newMember(t, "AdminB", b, "tenant_admin")
	lederA, lederAEmail := newMember(t, "LederA", a, "leder")
	lisA, lisAEmail := newMember(t, "LisA", a, "lis")
	supB, _ := newMember(t, "SupB", b, "supervisor")
	if err := s.SetLeaders(ctx, a.ID, tenants.Actor{PersonID: adminA, Name: "A"}, lisA, lederA, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	actorB := tenants.Actor{PersonID: adminB, Name: "B"}
	beforeA := countTenant(t, a.ID)

	if _, err := s.Member(ctx, b.ID, lisA); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("A's person through B: %v", err)
	}
	for name, err := range map[string]error{
		"roles":       s.SetRoles(ctx, b.ID, actorB, lisA, []string{"tenant_admin"}),
		"hpr":         s.SetHPR(ctx, b.ID, actorB, lisA, randomHPR()),
		"leaders":     s.SetLeaders(ctx, b.ID, actorB, lisA, uuid.Nil, uuid.Nil),
		"supervisor":  s.AddSupervisor(ctx, b.ID, actorB, lisA, supB),
		"unsupervise": s.RemoveSupervisor(ctx, b.ID, actorB, lisA, supB),
		"specialties": s.SetSpecialties(ctx, b.ID, actorB, lisA, "ANE", ""),
	} {
		if !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s of A's person through B: %v", name, err)
		}
	}
	ms, err := s.Members(ctx, b.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == lisA || m.ID == lederA || m.ID == adminA {
			t.Errorf("B's list shows A's person %s", m.Email)
		}
	}
	if ms, _ := s.Members(ctx, b.ID, "LisA"); len(ms) != 0 {
		t.Errorf("searching B finds A's people: %v", ms)
	}
	_, problems, err := s.Import(ctx, b.ID, actorB, []ImportRow{{Email: testenv.UniqueEmail("nyB"), GivenName: "N", FamilyName: "B", Roles: []string{"lis"}, LederEmail: lederAEmail}}, SourceForm)
	if err != nil || len(problems) != 1 || problems[0].Field != "leder" {
		t.Errorf("A's leder named in B: %v %v", problems, err)
	}
	if after := countTenant(t, a.ID); after != beforeA {
		t.Errorf("A changed: %+v → %+v", beforeA, after)
	}
	// Adding A's LIS to B by e-mail is allowed (one person, many tenants) and
	// touches only B.
	if _, problems, err := s.Import(ctx, b.ID, actorB, []ImportRow{{Email: lisAEmail, GivenName: "X", FamilyName: "Y", Roles: []string{"supervisor"}}}, SourceForm); err != nil || problems != nil {
		t.Fatalf("adding A's person to B: %v %v", problems, err)
	}
	if after := countTenant(t, a.ID); after != beforeA {
		t.Errorf("A changed when B added the person: %+v → %+v", beforeA, after)
	}
	if m, _ := s.Member(ctx, b.ID, lisA); m == nil || m.Leder != nil || !slices.Equal(m.Roles, []string{"supervisor"}) || m.GivenName != "LisA" {
		t.Errorf("A's person in B: %+v", m)
	}
	logB, err := tenants.AuditLog(ctx, testenv.Get(t).App, b.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range logB {
		if e.TenantID != b.ID || strings.Contains(e.Details, lederA.String()) || e.SubjectID != nil && *e.SubjectID == lederA {
			t.Errorf("B's log holds A's entry: %+v", e)
		}
	}
}
