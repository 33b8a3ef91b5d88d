package hdir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/accesslog"
	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/catalog"
	"kportal/modules/goals"
	"kportal/modules/history"
	"kportal/modules/plans"
	"kportal/modules/transfers"
	"kportal/modules/web"
	"kportal/tenants"
)

// WhatRecord is what the access log says was read by the record page.
const WhatRecord = "Hele utdanningsjournalen (Helsedirektoratets oppslag)"

// reader is the signed-in Helsedirektoratet person. The route guard checked
// the platform role; this repeats it so no other wiring can reach the record.
func reader(c echo.Context) (*modules.Viewer, error) {
	v := modules.ViewerFrom(c.Request().Context())
	if v == nil || !v.HasPlatformRole(tenants.RoleHdir) {
		return nil, apperr.Default(apperr.NotFound)
	}
	return v, nil
}

type searchData struct {
	Case, Q  string
	Errors   map[string]string
	Message  string // nothing found
	Searched bool
	Doctors  []Doctor
	More     bool
}

// RecordHref is the link to a doctor's record for the case.
func (d *searchData) RecordHref(id uuid.UUID) string {
	return "/hdir/lis/" + id.String() + "?" + url.Values{"sak": {d.Case}}.Encode()
}

const searchTitle = "Oppslag på LIS"

func (m *Module) search(c echo.Context) error {
	v, err := reader(c)
	if err != nil {
		return err
	}
	d := &searchData{Case: c.QueryParam("sak"), Q: c.QueryParam("q"), Errors: map[string]string{}}
	qs := c.QueryParams()
	if !qs.Has("sak") && !qs.Has("q") {
		return m.pages.Render(c, http.StatusOK, "search", searchTitle, d)
	}
	// The case number comes first: without a good one nothing is searched.
	var msg string
	if d.Case, msg = accesslog.CheckCase(d.Case); msg != "" {
		d.Errors["sak"] = msg
		return m.pages.Render(c, http.StatusUnprocessableEntity, "search", searchTitle, d)
	}
	docs, err := Search(c.Request().Context(), m.db, v.PersonID, d.Q)
	if f := apperr.FieldsOf(err); f != nil {
		d.Errors = f
		return m.pages.Render(c, http.StatusUnprocessableEntity, "search", searchTitle, d)
	}
	if err != nil {
		return err
	}
	d.Searched, d.Doctors = true, docs
	if len(docs) > SearchLimit {
		d.Doctors, d.More = docs[:SearchLimit], true
	}
	if len(docs) == 0 {
		if digits.MatchString(d.Q) {
			d.Message = fmt.Sprintf("Fant ingen lege med HPR-nummer %s i kportal. Sjekk nummeret, eller søk på navn eller e-postadresse.", d.Q)
		} else {
			d.Message = fmt.Sprintf("Fant ingen lege som passer «%s».", d.Q)
		}
	}
	return m.pages.Render(c, http.StatusOK, "search", searchTitle, d)
}

// Goal is an approved goal where it was approved.
type Goal struct {
	goals.Progress
	Where   string
	Version string       // the catalogue version's label
	Basis   *goals.Basis // the frozen basis; nil when none was frozen
}

// Course is a course activity with its kursbevis, if one was attached.
type Course struct {
	Title, Where, Status, Kursbevis string
	DoneOn                          time.Time
}

// Plan is a plan with where it was.
type Plan struct {
	plans.OwnAssignment
	Where string
}

// Kursbevis is a kursbevis document with where it was uploaded.
type Kursbevis struct {
	Name, Where string
	UploadedAt  time.Time
}

type recordData struct {
	Doctor     *Doctor
	Current    []string // where the LIS has a plan that has not ended
	Case       string
	Moves      []transfers.Transfer
	Plans      []Plan
	Goals      []Goal
	Procedures []history.ProcedureTotal
	Courses    []Course
	Kursbevis  []Kursbevis
	Truncated  bool
	SearchHref string
}

func (m *Module) record(c echo.Context) error {
	v, err := reader(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	id, err := uuid.Parse(c.Param("person"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke legen.")
	}
	cs, msg := accesslog.CheckCase(c.QueryParam("sak"))
	if msg != "" {
		// Refused before anything is read or written.
		return m.pages.Render(c, http.StatusUnprocessableEntity, "search", searchTitle,
			&searchData{Case: cs, Errors: map[string]string{"sak": msg}})
	}
	doc, err := Find(ctx, m.db, v.PersonID, id)
	if err != nil {
		return err
	}
	// The log first, in its own transaction (the record's is read-only): a
	// read that fails after it is still logged.
	err = tenants.WithTenantTx(ctx, m.db, tenants.Scope{PersonID: v.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		return accesslog.Record(ctx, tx, accesslog.Entry{SubjectID: id, ReaderID: &v.PersonID, ReaderName: v.Name(),
			ReaderOrg: Organisation, CaseNumber: cs, What: WhatRecord})
	})
	if err != nil {
		return err
	}
	rec, err := history.Load(ctx, m.db, id)
	if err != nil {
		return err
	}
	d, err := m.view(ctx, rec)
	if err != nil {
		return err
	}
	d.Doctor, d.Case = doc, cs
	d.SearchHref = "/hdir/lis?" + url.Values{"sak": {cs}}.Encode()
	return m.pages.Render(c, http.StatusOK, "record", doc.Name, d)
}

// view arranges the national record for the reader: every workplace's rows in
// one list each, each approved goal once (where it was approved: history
// counts carried approvals apart and lists them nowhere else).
func (m *Module) view(ctx context.Context, rec *history.Record) (*recordData, error) {
	d := &recordData{Moves: rec.Moves, Truncated: rec.Truncated}
	versions := map[int]string{}
	for _, s := range rec.Sections {
		where := s.Tenant.Name
		if s.Current() {
			d.Current = append(d.Current, where)
		}
		for _, p := range s.Plans {
			d.Plans = append(d.Plans, Plan{OwnAssignment: p, Where: where})
		}
		for _, g := range s.Goals {
			gv := Goal{Progress: g, Where: where}
			if len(g.Basis) > 0 {
				gv.Basis = new(goals.Basis)
				if err := json.Unmarshal(g.Basis, gv.Basis); err != nil {
					return nil, fmt.Errorf("goal %s basis: %w", g.ID, err)
				}
			}
			versions[g.VersionID] = ""
			d.Goals = append(d.Goals, gv)
		}
		docs := map[uuid.UUID]string{}
		for _, doc := range s.Documents {
			docs[doc.ID] = doc.Name
			if doc.Kind == "kursbevis" {
				d.Kursbevis = append(d.Kursbevis, Kursbevis{Name: doc.Name, Where: where, UploadedAt: doc.UploadedAt})
			}
		}
		for _, a := range s.Activities {
			if a.Kind != "course" {
				continue
			}
			c := Course{Title: a.Title, Where: where, Status: activities.StatusLabel(a.Status), DoneOn: a.DoneOn}
			if a.DocumentID != nil {
				c.Kursbevis = docs[*a.DocumentID]
			}
			d.Courses = append(d.Courses, c)
		}
	}
	if err := catalog.Labels(ctx, m.db, versions); err != nil {
		return nil, err
	}
	for i := range d.Goals {
		d.Goals[i].Version = versions[d.Goals[i].VersionID]
	}
	sort.SliceStable(d.Goals, func(i, j int) bool {
		a, b := d.Goals[i].DecidedAt, d.Goals[j].DecidedAt
		if a == nil || b == nil {
			return b == nil && a != nil
		}
		return a.After(*b)
	})
	d.Procedures = rec.ProcedureTotals()
	sort.SliceStable(d.Courses, func(i, j int) bool { return d.Courses[i].DoneOn.After(d.Courses[j].DoneOn) })
	return d, nil
}

// Date is web.Date for the templates.
func (d *recordData) Date(t time.Time) string { return web.Date(t) }
