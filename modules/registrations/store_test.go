package registrations

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/workflow"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newTenant(t *testing.T, db bun.IDB, name string, kind tenants.Kind) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, db, &tenants.Tenant{Name: name, Kind: kind})
}

func newPerson(t *testing.T, db bun.IDB) uuid.UUID {
	t.Helper()
	return testenv.NewPerson(t, db, "Test", "Person")
}

func admin(t *testing.T, db bun.IDB) Actor {
	return Actor{PersonID: newPerson(t, db), Name: "Astrid Admin", Role: "tenant_admin", Can: granted(ActionRead, ActionEdit)}
}

func hdir(t *testing.T, db bun.IDB) Actor {
	return Actor{PersonID: newPerson(t, db), Name: "Hanne Hdir", Role: tenants.RoleHdir, Can: granted(ActionReview)}
}

func validContent() Content {
	return Content{
		Specialties: []string{"LIS1", "ALM"},
		Arenas: []Arena{
			{Name: "Legesenteret", Description: "Fastlegekontor med seks leger", LIS1Goals: []string{"KLK-002", "KLK-001"}, OtherGoals: "alm-12, FKM-3"},
			{Name: "Legevakten", LIS1Goals: []string{"KLK-040"}},
		},
		Supervision:       "Ukentlig individuell veiledning.\nGruppeveiledning annenhver uke.",
		PartnerAgreements: "Helse Bergen HF: sykehustjenesten",
		ContactName:       "Kari Kontakt", ContactEmail: "kari@kommune.no", ContactPhone: "+47 55 55 55 55",
	}
}

func mustCurrent(t *testing.T, s *Store, tenantID uuid.UUID) (*Registration, []Event) {
	t.Helper()
	r, evs, err := s.Current(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	return r, evs
}

func TestDraftSaveAndLoad(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	s := NewStore(env.App)
	k := newTenant(t, env.App, "Utkast kommune", tenants.KindKommune)
	a := admin(t, env.App)

	if r, _ := mustCurrent(t, s, k.ID); r != nil {
		t.Fatalf("new tenant has a registration: %+v", r)
	}
	// Incomplete and partly wrong: a draft keeps it all.
	draft := Content{
		Specialties:  []string{"SAM", "XYZ"},
		Arenas:       []Arena{{Name: " "}, {Description: "Uten navn ennå", OtherGoals: "ikke en kode", LIS1Goals: []string{"KLK-003", "KLK-999"}}},
		ContactEmail: "ikke-en-adresse",
	}
	r, err := s.SaveDraft(ctx, a, k.ID, draft)
	if err != nil {
		t.Fatal(err)
	}
	got, evs := mustCurrent(t, s, k.ID)
	if got == nil || got.ID != r.ID || got.State != Draft || len(evs) != 0 || got.FirstSubmittedAt != nil {
		t.Fatalf("after saving a draft: %+v, events %v", got, evs)
	}
	want := Content{
		Specialties:  []string{"SAM"},
		Arenas:       []Arena{{Description: "Uten navn ennå", OtherGoals: "ikke en kode", LIS1Goals: []string{"KLK-003"}}},
		ContactEmail: "ikke-en-adresse",
	}
	if !reflect.DeepEqual(got.Content, want) {
		t.Fatalf("draft content:\n got %+v\nwant %+v", got.Content, want)
	}

	// Saving again changes the same registration.
	full := validContent()
	if _, err := s.SaveDraft(ctx, a, k.ID, full); err != nil {
		t.Fatal(err)
	}
	got, _ = mustCurrent(t, s, k.ID)
	if got.ID != r.ID || got.State != Draft {
		t.Fatalf("second save made another registration or changed state: %+v", got)
	}
	if !reflect.DeepEqual(got.Specialties, []string{"ALM", "LIS1"}) || got.Arenas[0].Name != "Legesenteret" ||
		!reflect.DeepEqual(got.Arenas[0].LIS1Goals, []string{"KLK-001", "KLK-002"}) || got.Arenas[0].OtherGoals != "alm-12, FKM-3" ||
		got.Supervision != full.Supervision || got.ContactPhone != full.ContactPhone {
		t.Fatalf("saved content: %+v", got.Content)
	}

	t.Run("limits hold even for drafts", func(t *testing.T) {
		c := validContent()
		c.Arenas[1].Name = strings.Repeat("x", maxShort+1)
		_, err := s.SaveDraft(ctx, a, k.ID, c)
		if apperr.CodeOf(err) != apperr.Invalid || ProblemsOf(err).fields()["arena-1-name"] == "" {
			t.Fatalf("too long a name: %v", err)
		}
		after, _ := mustCurrent(t, s, k.ID)
		if after.Arenas[1].Name != "Legevakten" {
			t.Fatal("a refused draft changed the stored one")
		}
	})
}

func TestSubmitValidation(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	s := NewStore(env.App)
	a := admin(t, env.App)

	t.Run("submitting a registration without arenas is refused and changes nothing", func(t *testing.T) {
		k := newTenant(t, env.App, "Uten arenaer", tenants.KindKommune)
		c := validContent()
		c.Arenas = nil
		saved, err := s.SaveDraft(ctx, a, k.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Submit(ctx, a, k.ID, c)
		if apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("want invalid, got %v", err)
		}
		if msg := ProblemsOf(err).fields()["arenas"]; msg != "Du må legge inn minst én læringsarena." {
			t.Fatalf("problem for arenas: %q (%v)", msg, err)
		}
		after, evs := mustCurrent(t, s, k.ID)
		if after.State != Draft || !after.UpdatedAt.Equal(saved.UpdatedAt) || after.FirstSubmittedAt != nil || len(evs) != 0 {
			t.Fatalf("a refused submission changed the registration: %+v, events %v", after, evs)
		}
	})

	t.Run("a refused submission leaves the draft as it was saved", func(t *testing.T) {
		k := newTenant(t, env.App, "Uendret", tenants.KindKommune)
		if _, err := s.SaveDraft(ctx, a, k.ID, validContent()); err != nil {
			t.Fatal(err)
		}
		c := validContent()
		c.ContactEmail = "feil"
		c.Supervision = "Ny tekst som ikke skal lagres"
		if _, err := s.Submit(ctx, a, k.ID, c); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("want invalid, got %v", err)
		}
		after, _ := mustCurrent(t, s, k.ID)
		if after.State != Draft || after.Supervision != validContent().Supervision || after.ContactEmail != "kari@kommune.no" {
			t.Fatalf("stored registration changed: %+v", after)
		}
	})

	t.Run("a tenant without a draft submitting incomplete content gets nothing stored", func(t *testing.T) {
		k := newTenant(t, env.App, "Ingenting", tenants.KindPrivate)
		if _, err := s.Submit(ctx, a, k.ID, Content{}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("want invalid, got %v", err)
		}
		if r, _ := mustCurrent(t, s, k.ID); r != nil {
			t.Fatalf("a refused first submission stored %+v", r)
		}
	})

	cases := []struct {
		name   string
		change func(c *Content)
		field  string
		want   string
	}{
		{"no specialty", func(c *Content) { c.Specialties = nil }, "specialties", "Velg minst én spesialitet."},
		{"an arena without a name", func(c *Content) { c.Arenas[1].Name = "" }, "arena-1-name", "Læringsarenaen må ha et navn."},
		{"no contact name", func(c *Content) { c.ContactName = "" }, "contact_name", "Skriv navnet på kontaktpersonen."},
		{"no contact e-mail", func(c *Content) { c.ContactEmail = "" }, "contact_email", "Skriv e-postadressen til kontaktpersonen."},
		{"a bad contact e-mail", func(c *Content) { c.ContactEmail = "kari@kommune" }, "contact_email", "Skriv en gyldig e-postadresse"},
		{"a display name in the e-mail", func(c *Content) { c.ContactEmail = "Kari <kari@kommune.no>" }, "contact_email", "Skriv en gyldig e-postadresse"},
		{"a bad phone number", func(c *Content) { c.ContactPhone = "ring meg" }, "contact_phone", "telefonnummer"},
		{"no supervision", func(c *Content) { c.Supervision = " " }, "supervision", "veiledning og supervisjon"},
		{"a goal that is not code-like", func(c *Content) { c.Arenas[0].OtherGoals = "ALM-1, lære å sy" }, "arena-0-goals", "«lære», «å», «sy» ser ikke ut som læringsmålkoder"},
		{"KLK goals without LIS1", func(c *Content) { c.Specialties = []string{"ALM"} }, "arena-0-lis1", "ikke valgt LIS1"},
		{"typed goals without ALM, SAM or ARB", func(c *Content) { c.Specialties = []string{"LIS1"} }, "arena-0-goals", "ALM, SAM eller ARB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validContent()
			tc.change(&c)
			c.normalize()
			p := c.checkComplete()
			if msg := p.fields()[tc.field]; !strings.Contains(msg, tc.want) {
				t.Fatalf("problem for %s: %q, want %q (all: %v)", tc.field, msg, tc.want, p)
			}
		})
	}
	t.Run("valid content has no problems", func(t *testing.T) {
		c := validContent()
		c.normalize()
		if p := c.checkComplete(); len(p) != 0 {
			t.Fatalf("problems: %v", p)
		}
	})
}

func TestResubmissionKeepsFirstSubmissionDate(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	s := NewStore(env.App)
	k := newTenant(t, env.App, "Sender på nytt", tenants.KindKommune)
	a, h := admin(t, env.App), hdir(t, env.App)
	var fired []string
	s.Events.Bind(func(ctx context.Context, e workflow.Event) error { fired = append(fired, e.Name); return nil })

	first, err := s.Submit(ctx, a, k.ID, validContent())
	if err != nil {
		t.Fatal(err)
	}
	if first.State != Submitted || first.FirstSubmittedAt == nil || !first.FirstSubmittedAt.Equal(*first.LastSubmittedAt) {
		t.Fatalf("after the first submission: %+v", first)
	}
	t.Run("a sent registration cannot be changed", func(t *testing.T) {
		if _, err := s.SaveDraft(ctx, a, k.ID, Content{}); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("saving a sent registration: %v", err)
		}
		if _, err := s.Submit(ctx, a, k.ID, validContent()); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("sending twice: %v", err)
		}
	})
	if _, err := s.Decide(ctx, h, k.ID, first.ID, TransitionRequestChanges, "Beskriv legevakten bedre."); err != nil {
		t.Fatal(err)
	}
	var told []string
	_ = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: k.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT payload->>'outcome_text' FROM outbox WHERE tenant_id = ? AND topic = 'registration.reviewed' AND recipient_id = ?", k.ID, a.PersonID).Scan(ctx, &told)
	})
	if len(told) != 1 || told[0] != StateLabel(ChangesRequested) {
		t.Fatalf("the sender was told %v", told)
	}
	c := validContent()
	c.Arenas[1].Description = "Interkommunal legevakt, døgnåpen"
	if _, err := s.SaveDraft(ctx, a, k.ID, c); err != nil {
		t.Fatal(err)
	}
	mid, _ := mustCurrent(t, s, k.ID)
	if mid.State != ChangesRequested || mid.Arenas[1].Description != c.Arenas[1].Description {
		t.Fatalf("editing after changes were asked for: %+v", mid)
	}
	again, err := s.Submit(ctx, a, k.ID, c)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || !again.FirstSubmittedAt.Equal(*first.FirstSubmittedAt) || !again.LastSubmittedAt.After(*first.LastSubmittedAt) {
		t.Fatalf("resubmission: first %v → %v, last %v → %v", first.FirstSubmittedAt, again.FirstSubmittedAt, first.LastSubmittedAt, again.LastSubmittedAt)
	}
	stored, evs := mustCurrent(t, s, k.ID)
	if !stored.FirstSubmittedAt.Equal(*first.FirstSubmittedAt) || stored.State != Submitted {
		t.Fatalf("stored: %+v", stored)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.FromState)+">"+string(e.Kind)+":"+e.ActorRole)
	}
	want := "draft>submitted:tenant_admin submitted>changes_requested:hdir changes_requested>submitted:tenant_admin"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("history: %v", kinds)
	}
	if evs[1].Comment != "Beskriv legevakten bedre." || evs[1].ActorName != "Hanne Hdir" || evs[0].ActorName != "Astrid Admin" {
		t.Fatalf("history entries: %+v", evs)
	}
	if strings.Join(fired, " ") != "registration.submitted registration.changes_requested registration.submitted" {
		t.Fatalf("events fired: %v", fired)
	}
}

func TestDecisionsOnlyFromSubmitted(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	s := NewStore(env.App)
	a, h := admin(t, env.App), hdir(t, env.App)

	t.Run("a draft cannot be decided on: it is not found", func(t *testing.T) {
		k := newTenant(t, env.App, "Kladd", tenants.KindKommune)
		r, err := s.SaveDraft(ctx, a, k.ID, validContent())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Decide(ctx, h, k.ID, r.ID, TransitionApprove, ""); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("approving a draft: %v", err)
		}
		if after, _ := mustCurrent(t, s, k.ID); after.State != Draft {
			t.Fatalf("state: %s", after.State)
		}
	})

	k := newTenant(t, env.App, "Beslutning", tenants.KindKommune)
	r, err := s.Submit(ctx, a, k.ID, validContent())
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name     string
		actor    Actor
		decision string
		comment  string
		code     apperr.Code
	}{
		{"asking for changes without a comment", h, TransitionRequestChanges, "  ", apperr.Invalid},
		{"rejecting without a comment", h, TransitionReject, "", apperr.Invalid},
		{"an unknown decision", h, "submit", "x", apperr.Invalid},
		{"the virksomhet deciding on its own registration", a, TransitionApprove, "", apperr.Forbidden},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Decide(ctx, tc.actor, k.ID, r.ID, tc.decision, tc.comment)
			if apperr.CodeOf(err) != tc.code {
				t.Fatalf("want %s, got %v", tc.code, err)
			}
			if after, evs := mustCurrent(t, s, k.ID); after.State != Submitted || len(evs) != 1 {
				t.Fatalf("a refused decision changed something: %s, %d events", after.State, len(evs))
			}
		})
	}
	if tc := refused[0]; ProblemsOf(func() error { _, err := s.Decide(ctx, h, k.ID, r.ID, tc.decision, ""); return err }()).fields()["comment"] == "" {
		t.Fatal("the missing comment is not reported on the comment field")
	}

	approved, err := s.Decide(ctx, h, k.ID, r.ID, TransitionApprove, "")
	if err != nil {
		t.Fatal(err)
	}
	if approved.State != Approved || approved.DecidedAt == nil {
		t.Fatalf("approved: %+v", approved)
	}
	for _, d := range Decisions {
		_, err := s.Decide(ctx, h, k.ID, r.ID, d, "En kommentar")
		if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(apperr.MessageOf(err), "«Godkjent»") {
			t.Fatalf("%s on an approved registration: %v", d, err)
		}
	}
	if _, err := s.SaveDraft(ctx, a, k.ID, validContent()); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("changing an approved registration: %v", err)
	}
	if _, err := s.Submit(ctx, a, k.ID, validContent()); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("sending an approved registration: %v", err)
	}

	t.Run("after a rejection a new registration can be started", func(t *testing.T) {
		k := newTenant(t, env.App, "Avslått", tenants.KindKommune)
		r, err := s.Submit(ctx, a, k.ID, validContent())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Decide(ctx, h, k.ID, r.ID, TransitionReject, "Mangler avtale med helseforetaket."); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Decide(ctx, h, k.ID, r.ID, TransitionApprove, ""); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("approving a rejected registration: %v", err)
		}
		cur, evs := mustCurrent(t, s, k.ID)
		if cur.State != Rejected || evs[len(evs)-1].Comment != "Mangler avtale med helseforetaket." {
			t.Fatalf("after rejection: %+v %+v", cur, evs)
		}
		fresh, err := s.SaveDraft(ctx, a, k.ID, cur.Content)
		if err != nil {
			t.Fatal(err)
		}
		cur, evs = mustCurrent(t, s, k.ID)
		if fresh.ID == r.ID || cur.ID != fresh.ID || cur.State != Draft || len(evs) != 0 {
			t.Fatalf("new registration after rejection: %+v, events %v", cur, evs)
		}
	})
}
