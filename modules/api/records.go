package api

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules/accesslog"
	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/catalog"
	"kportal/modules/history"
	"kportal/tenants"
)

// Workplace is a tenant as the API shows it.
type Workplace struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// RecordPlan is one plan a LIS has had.
type RecordPlan struct {
	Workplace  Workplace  `json:"workplace"`
	Name       string     `json:"name"`
	AssignedAt time.Time  `json:"assigned_at"`
	EndedAt    *time.Time `json:"ended_at"`
}

// RecordGoal is one approved goal, listed once where it was approved.
type RecordGoal struct {
	Code             string     `json:"code"`
	Text             *string    `json:"text"`
	CatalogueVersion string     `json:"catalogue_version"`
	ApprovedBy       string     `json:"approved_by"`
	ApprovedAt       *time.Time `json:"approved_at"`
	Workplace        Workplace  `json:"workplace"`
	PriorLearning    bool       `json:"prior_learning"`
}

// RecordProcedure is the count of one procedure at one workplace.
type RecordProcedure struct {
	Workplace       Workplace `json:"workplace"`
	Name            string    `json:"name"`
	Assisted        int       `json:"assisted"`
	Performed       int       `json:"performed"`
	AssistedSigned  int       `json:"assisted_signed"`
	PerformedSigned int       `json:"performed_signed"`
}

// RecordCourse is one course the LIS registered.
type RecordCourse struct {
	Workplace   Workplace `json:"workplace"`
	Title       string    `json:"title"`
	DoneOn      string    `json:"done_on"` // yyyy-mm-dd
	Status      string    `json:"status"`
	Certificate bool      `json:"certificate"` // a kursbevis is attached
}

// Record is a LIS's national record as the API gives it.
type Record struct {
	HPR           string            `json:"hpr"`
	Name          string            `json:"name"`
	Case          string            `json:"case"`
	Plans         []RecordPlan      `json:"plans"`
	ApprovedGoals []RecordGoal      `json:"approved_goals"`
	Procedures    []RecordProcedure `json:"procedures"`
	Courses       []RecordCourse    `json:"courses"`
}

var hprNumber = regexp.MustCompile(`^[0-9]{6,9}$`)

func (m *Module) record(c echo.Context) error {
	k := keyFrom(c)
	if err := need(k, ScopeRecords); err != nil {
		return err
	}
	ctx := c.Request().Context()
	caseNo, problem := accesslog.CheckCase(c.QueryParam("case"))
	if problem != "" {
		return apperr.New(apperr.Invalid, "case: %s", problem)
	}
	hpr := c.Param("hpr")
	if !hprNumber.MatchString(hpr) {
		return apperr.New(apperr.Invalid, "HPR-nummeret skal være 6 til 9 sifre.")
	}
	var p struct {
		ID   uuid.UUID `bun:"id"`
		Name string    `bun:"name"`
	}
	err := m.db.NewRaw("SELECT id, trim(given_name || ' ' || family_name) AS name FROM people WHERE hpr_number = ?", hpr).Scan(ctx, &p)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.NotFound, "Fant ingen lege med HPR-nummer %s.", hpr)
	}
	if err != nil {
		return err
	}
	// Logged before the read, in the log the LIS reads: a read that then
	// fails is still there (too much, never too little).
	err = tenants.WithTenantTx(ctx, m.db, tenants.Scope{}, func(ctx context.Context, tx bun.Tx) error {
		return accesslog.Record(ctx, tx, accesslog.Entry{SubjectID: p.ID, APIKeyID: &k.ID, ReaderName: "API-nøkkel «" + k.Name + "» (" + k.Prefix + ")",
			ReaderOrg: k.OwnerName, CaseNumber: caseNo, What: "Hele journalen (API)"})
	})
	if err != nil {
		return err
	}
	rec, err := history.LoadFor(ctx, m.db, p.ID) // its activities are all the courses
	if err != nil {
		return err
	}
	out := Record{HPR: hpr, Name: p.Name, Case: caseNo, Plans: []RecordPlan{}, ApprovedGoals: []RecordGoal{},
		Procedures: []RecordProcedure{}, Courses: []RecordCourse{}}
	versions := map[int]string{}
	var vids []int // each approved goal's catalogue version
	var courses []activities.Activity
	for _, s := range rec.Sections {
		w := Workplace{Slug: s.Tenant.Slug, Name: s.Tenant.Name}
		for _, pl := range s.Plans {
			out.Plans = append(out.Plans, RecordPlan{Workplace: w, Name: pl.TemplateName, AssignedAt: pl.AssignedAt, EndedAt: pl.ArchivedAt})
		}
		// Carried approvals are left out by history: each goal once, where approved.
		for _, g := range s.Goals {
			versions[g.VersionID] = ""
			vids = append(vids, g.VersionID)
			out.ApprovedGoals = append(out.ApprovedGoals, RecordGoal{Code: g.GoalCode, Text: g.GoalText,
				ApprovedBy: g.DecidedByName, ApprovedAt: g.DecidedAt, Workplace: w, PriorLearning: g.PriorLearning})
		}
		for _, pc := range s.Procedures {
			out.Procedures = append(out.Procedures, RecordProcedure{Workplace: w, Name: pc.Name, Assisted: pc.Assisted,
				Performed: pc.Performed, AssistedSigned: pc.AssistedSigned, PerformedSigned: pc.PerformedSigned})
		}
		for _, a := range s.Activities {
			if a.Kind == "course" {
				courses = append(courses, a)
			}
		}
	}
	names := map[uuid.UUID]Workplace{}
	for _, s := range rec.Sections {
		names[s.Tenant.ID] = Workplace{Slug: s.Tenant.Slug, Name: s.Tenant.Name}
	}
	for _, a := range courses {
		out.Courses = append(out.Courses, RecordCourse{Workplace: names[a.TenantID], Title: a.Title,
			DoneOn: a.DoneOn.Format(time.DateOnly), Status: a.Status, Certificate: a.DocumentID != nil})
	}
	if err := catalog.Labels(ctx, m.db, versions); err != nil {
		return err
	}
	for i := range out.ApprovedGoals {
		out.ApprovedGoals[i].CatalogueVersion = versions[vids[i]]
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(200, out)
}
