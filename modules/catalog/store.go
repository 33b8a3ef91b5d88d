package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/apperr"
	"kportal/tenants"
)

// Version is a catalogue version: a draft until published. A LIS's plan is
// pinned to one.
type Version struct {
	ID          int        `bun:"id"`
	Label       string     `bun:"label"`
	Note        string     `bun:"note"`
	CreatedAt   time.Time  `bun:"created_at"`
	PublishedAt *time.Time `bun:"published_at"`
	Goals       int        `bun:"goals"`
	Changed     int        `bun:"changed"`
	Unmarked    int        `bun:"unmarked"` // changed goals not yet marked stricter or not
}

// Published reports whether the version is published.
func (v Version) Published() bool { return v.PublishedAt != nil }

// Result is what Import did.
type Result struct {
	VersionID                                  int
	Specialties, Goals, Procedures, Activities int
	Changed, New, CarriedOver                  int
}

// Import stores set as a new draft version called label. Goals, procedures
// and recommended activities of the latest published version that set does
// not mention are carried over, so an upload of a few changed goals is a
// whole catalogue. Each goal is compared with the latest published version:
// changed (text, plan or validity) goals wait for Helsedirektoratet to mark
// them stricter or not. Nothing is imported when set has bad rows.
func Import(ctx context.Context, db bun.IDB, set *Set, label, note string, by uuid.UUID) (*Result, error) {
	if len(set.Bad) > 0 {
		return nil, apperr.New(apperr.Invalid, "%d rader er ikke gyldige; ingenting er importert.", len(set.Bad))
	}
	label = strings.TrimSpace(label)
	if label == "" {
		return nil, apperr.InvalidFields(map[string]string{"label": "Gi versjonen et navn, for eksempel 2026-2."})
	}
	res := &Result{}
	err := db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		var exists bool
		if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM catalog_versions WHERE label = ?)", label).Scan(ctx, &exists); err != nil {
			return err
		}
		if exists {
			return apperr.InvalidFields(map[string]string{"label": fmt.Sprintf("Versjonen %q finnes allerede.", label)})
		}
		var byPtr *uuid.UUID
		if by != uuid.Nil {
			byPtr = &by
		}
		if err := tx.NewRaw("INSERT INTO catalog_versions (label, note, created_by) VALUES (?, ?, ?) RETURNING id", label, note, byPtr).Scan(ctx, &res.VersionID); err != nil {
			return err
		}
		for _, sp := range set.Specialties {
			if _, err := tx.ExecContext(ctx, `INSERT INTO specialties (code, name, structure, del2_plan) VALUES (?, ?, ?, ?)
				ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, structure = EXCLUDED.structure, del2_plan = EXCLUDED.del2_plan`,
				sp.Code, sp.Name, sp.Structure, sp.Del2Plan); err != nil {
				return err
			}
			res.Specialties++
		}
		prev, err := latestPublished(ctx, tx)
		if err != nil {
			return err
		}
		old := map[string]Goal{}
		if prev != nil {
			var goals []Goal
			if err := tx.NewRaw("SELECT code, text, plan, part, competence_area, valid_from, valid_to FROM goals WHERE version_id = ?", prev.ID).Scan(ctx, &goals); err != nil {
				return err
			}
			for _, g := range goals {
				old[g.Code] = g
			}
		}
		for _, g := range set.Goals {
			changed := false
			if o, ok := old[g.Code]; ok {
				changed = goalChanged(o, g)
				delete(old, g.Code)
				if changed {
					res.Changed++
				}
			} else if prev != nil {
				res.New++
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO goals (version_id, code, text, plan, part, competence_area, valid_from, valid_to, changed)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, res.VersionID, g.Code, g.Text, g.Plan, g.Part, g.CompetenceArea, g.ValidFrom, g.ValidTo, changed); err != nil {
				return err
			}
			res.Goals++
		}
		if prev == nil {
			res.New = res.Goals
		}
		for _, sp := range set.Procedures {
			if _, err := tx.ExecContext(ctx, `INSERT INTO national_procedures (version_id, specialty, number, name, assisted, performed, assisted_or_performed, comment, source)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, res.VersionID, sp.Specialty, sp.Number, sp.Name, sp.Assisted, sp.Performed, sp.AssistedOrPerformed, sp.Comment, sp.Source); err != nil {
				return err
			}
			res.Procedures++
		}
		for _, a := range set.Activities {
			if _, err := tx.ExecContext(ctx, `INSERT INTO recommended_activities (version_id, specialty, kind, name, timing, source) VALUES (?, ?, ?, ?, ?, ?)`,
				res.VersionID, a.Specialty, a.Kind, a.Name, a.Timing, a.Source); err != nil {
				return err
			}
			res.Activities++
		}
		if prev == nil {
			return nil
		}
		// Carry over what the import did not mention.
		r, err := tx.ExecContext(ctx, `INSERT INTO goals (version_id, code, text, plan, part, competence_area, valid_from, valid_to)
			SELECT ?, code, text, plan, part, competence_area, valid_from, valid_to FROM goals g
			WHERE g.version_id = ? AND NOT EXISTS (SELECT 1 FROM goals n WHERE n.version_id = ? AND n.code = g.code)`, res.VersionID, prev.ID, res.VersionID)
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		res.CarriedOver = int(n)
		if _, err := tx.ExecContext(ctx, `INSERT INTO national_procedures (version_id, specialty, number, name, assisted, performed, assisted_or_performed, comment, source)
			SELECT ?, specialty, number, name, assisted, performed, assisted_or_performed, comment, source FROM national_procedures p
			WHERE p.version_id = ? AND NOT EXISTS (SELECT 1 FROM national_procedures n WHERE n.version_id = ? AND n.specialty = p.specialty)`, res.VersionID, prev.ID, res.VersionID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO recommended_activities (version_id, specialty, kind, name, timing, source)
			SELECT ?, specialty, kind, name, timing, source FROM recommended_activities a
			WHERE a.version_id = ? AND NOT EXISTS (SELECT 1 FROM recommended_activities n WHERE n.version_id = ? AND n.specialty = a.specialty)`, res.VersionID, prev.ID, res.VersionID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func sameDate(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Format("2006-01-02") == b.Format("2006-01-02")
}

func goalChanged(o, n Goal) bool {
	ot, nt := "", ""
	if o.Text != nil {
		ot = *o.Text
	}
	if n.Text != nil {
		nt = *n.Text
	}
	return ot != nt || o.Plan != n.Plan || !sameDate(o.ValidFrom, n.ValidFrom) || !sameDate(o.ValidTo, n.ValidTo)
}

const versionCols = `v.id, v.label, v.note, v.created_at, v.published_at,
	(SELECT count(*) FROM goals g WHERE g.version_id = v.id) AS goals,
	(SELECT count(*) FROM goals g WHERE g.version_id = v.id AND g.changed) AS changed,
	(SELECT count(*) FROM goals g WHERE g.version_id = v.id AND g.changed AND g.stricter IS NULL) AS unmarked`

func latestPublished(ctx context.Context, db bun.IDB) (*Version, error) {
	v := new(Version)
	err := db.NewRaw("SELECT "+versionCols+" FROM catalog_versions v WHERE v.published_at IS NOT NULL ORDER BY v.published_at DESC, v.id DESC LIMIT 1").Scan(ctx, v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// LatestPublished is the newest published version, or nil when none is.
func LatestPublished(ctx context.Context, db bun.IDB) (*Version, error) {
	return latestPublished(ctx, db)
}

// Versions lists every version, newest first.
func Versions(ctx context.Context, db bun.IDB) ([]Version, error) {
	var out []Version
	err := db.NewRaw("SELECT "+versionCols+" FROM catalog_versions v ORDER BY v.id DESC").Scan(ctx, &out)
	return out, err
}

// VersionByID finds one version.
func VersionByID(ctx context.Context, db bun.IDB, id int) (*Version, error) {
	v := new(Version)
	err := db.NewRaw("SELECT "+versionCols+" FROM catalog_versions v WHERE v.id = ?", id).Scan(ctx, v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Default(apperr.NotFound)
	}
	return v, err
}

// Change is a goal of a draft that differs from the published version.
type Change struct {
	New Goal
	Old Goal
}

// Changes lists the changed goals of a version with their previous form.
func Changes(ctx context.Context, db bun.IDB, versionID int) ([]Change, error) {
	var rows []struct {
		Goal
		OldText      *string    `bun:"old_text"`
		OldPlan      string     `bun:"old_plan"`
		OldValidFrom *time.Time `bun:"old_valid_from"`
		OldValidTo   *time.Time `bun:"old_valid_to"`
	}
	err := db.NewRaw(`SELECT g.code, g.text, g.plan, g.part, g.competence_area, g.valid_from, g.valid_to, g.changed, g.stricter,
			o.text AS old_text, coalesce(o.plan, '') AS old_plan, o.valid_from AS old_valid_from, o.valid_to AS old_valid_to
		FROM goals g
		LEFT JOIN goals o ON o.code = g.code AND o.version_id = (SELECT id FROM catalog_versions WHERE published_at IS NOT NULL AND id <> g.version_id
			AND (published_at < coalesce((SELECT published_at FROM catalog_versions WHERE id = g.version_id), 'infinity'))
			ORDER BY published_at DESC, id DESC LIMIT 1)
		WHERE g.version_id = ? AND g.changed ORDER BY g.code`, versionID).Scan(ctx, &rows)
	out := make([]Change, len(rows))
	for i, r := range rows {
		out[i] = Change{New: r.Goal, Old: Goal{Code: r.Code, Text: r.OldText, Plan: r.OldPlan, ValidFrom: r.OldValidFrom, ValidTo: r.OldValidTo}}
	}
	return out, err
}

// MarkStricter records whether a changed goal of a draft is stricter than before.
func MarkStricter(ctx context.Context, db bun.IDB, versionID int, code string, stricter bool) error {
	r, err := db.ExecContext(ctx, `UPDATE goals SET stricter = ? WHERE version_id = ? AND code = ? AND changed
		AND (SELECT published_at FROM catalog_versions WHERE id = ?) IS NULL`, stricter, versionID, code, versionID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "Fant ikke et endret mål %s i et utkast.", code)
	}
	return nil
}

// Publish publishes a draft once every changed goal is marked stricter or not.
func Publish(ctx context.Context, db bun.IDB, versionID int, now time.Time) error {
	v, err := VersionByID(ctx, db, versionID)
	if err != nil {
		return err
	}
	switch {
	case v.Published():
		return apperr.New(apperr.Conflict, "Versjonen %s er allerede publisert.", v.Label)
	case v.Unmarked > 0:
		return apperr.New(apperr.Invalid, "%d endrede mål er ikke vurdert som strengere eller ikke. Vurder alle før publisering.", v.Unmarked)
	}
	_, err = db.ExecContext(ctx, "UPDATE catalog_versions SET published_at = ? WHERE id = ? AND published_at IS NULL", now, versionID)
	return err
}

// Goals lists the goals of a version; plans filters by plan code (none: all).
func Goals(ctx context.Context, db bun.IDB, versionID int, plans ...string) ([]Goal, error) {
	var out []Goal
	q := db.NewSelect().Table("goals").Column("code", "text", "plan", "part", "competence_area", "valid_from", "valid_to", "changed", "stricter").
		Where("version_id = ?", versionID).OrderExpr("plan, code")
	if len(plans) > 0 {
		q = q.Where("plan IN (?)", bun.In(plans))
	}
	err := q.Scan(ctx, &out)
	return out, err
}

// NationalProcedure is a stored national procedure.
type NationalProcedure struct {
	ID                  uuid.UUID `bun:"id"`
	Specialty           string    `bun:"specialty"`
	Number              string    `bun:"number"`
	Name                string    `bun:"name"`
	Assisted            int       `bun:"assisted"`
	Performed           int       `bun:"performed"`
	AssistedOrPerformed int       `bun:"assisted_or_performed"`
	Comment             string    `bun:"comment"`
	Source              string    `bun:"source"`
}

// Procedures lists the national procedures of a specialty in a version.
func Procedures(ctx context.Context, db bun.IDB, versionID int, specialty string) ([]NationalProcedure, error) {
	var out []NationalProcedure
	err := db.NewRaw(`SELECT id, specialty, number, name, assisted, performed, assisted_or_performed, comment, source
		FROM national_procedures WHERE version_id = ? AND specialty = ? ORDER BY length(number), number, name`, versionID, specialty).Scan(ctx, &out)
	return out, err
}

// Specialties lists the specialties.
func Specialties(ctx context.Context, db bun.IDB) ([]Specialty, error) {
	var out []Specialty
	err := db.NewRaw("SELECT code, name, structure, del2_plan FROM specialties ORDER BY name").Scan(ctx, &out)
	return out, err
}

// Migrate moves a LIS's plans and goal progress in a tenant to catalogue
// version toVersion (published). Activities carry over as they are (they
// reference goal codes). An approved goal stays approved unless its goal was
// marked stricter in a version after the one it was approved in, up to
// toVersion: then it is open again, the old approval is kept as history in
// decision_note and basis, and the LIS is told (outbox 'goal.reassess').
// db is either a transaction with tenantID in force (tenants.WithTenantTx) or
// a *bun.DB, in which case Migrate opens one.
func Migrate(ctx context.Context, db bun.IDB, tenantID, lisID uuid.UUID, toVersion int) error {
	if d, ok := db.(*bun.DB); ok {
		return tenants.WithTenantTx(ctx, d, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
			return Migrate(ctx, tx, tenantID, lisID, toVersion)
		})
	}
	to, err := VersionByID(ctx, db, toVersion)
	if err != nil {
		return err
	}
	if !to.Published() {
		return apperr.New(apperr.Invalid, "Versjonen %s er ikke publisert.", to.Label)
	}
	var rows []struct {
		ID           uuid.UUID  `bun:"id"`
		Code         string     `bun:"goal_code"`
		VersionID    int        `bun:"version_id"`
		Status       string     `bun:"status"`
		DecidedBy    *uuid.UUID `bun:"decided_by"`
		DecidedAt    *time.Time `bun:"decided_at"`
		DecisionNote string     `bun:"decision_note"`
		Stricter     bool       `bun:"stricter"`
	}
	// Stricter: some published version after the row's own, up to the target,
	// marked the goal stricter.
	err = db.NewRaw(`SELECT p.id, p.goal_code, p.version_id, p.status, p.decided_by, p.decided_at, p.decision_note,
			EXISTS (SELECT 1 FROM goals g JOIN catalog_versions v ON v.id = g.version_id
				WHERE g.code = p.goal_code AND g.stricter AND v.published_at IS NOT NULL
				AND v.published_at > (SELECT coalesce(published_at, '-infinity') FROM catalog_versions WHERE id = p.version_id)
				AND v.published_at <= ?) AS stricter
		FROM goal_progress p WHERE p.tenant_id = ? AND p.lis_id = ? AND p.version_id <> ? FOR UPDATE OF p`,
		*to.PublishedAt, tenantID, lisID, toVersion).Scan(ctx, &rows)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Status == "approved" && r.Stricter {
			note := fmt.Sprintf("Godkjenningen fra før katalogversjon %s er beholdt som historikk: målet er skjerpet og må vurderes på nytt.", to.Label)
			if r.DecisionNote != "" {
				note += " Tidligere merknad: " + r.DecisionNote
			}
			if _, err := db.ExecContext(ctx, `UPDATE goal_progress SET status = 'open', version_id = ?, decision_note = ?,
					basis = jsonb_build_object('previous_approval', jsonb_build_object('status', status, 'decided_by', decided_by,
						'decided_at', decided_at, 'decision_note', decision_note, 'version_id', version_id, 'basis', basis),
						'reassess_for_version', ?::text),
					decided_by = NULL, decided_at = NULL, sent_to = NULL, sent_at = NULL
				WHERE tenant_id = ? AND id = ?`, toVersion, note, to.Label, tenantID, r.ID); err != nil {
				return err
			}
			if err := tenants.Emit(ctx, db, tenants.Event{TenantID: tenantID, Topic: "goal.reassess", Recipient: lisID,
				Payload: map[string]any{"goal_code": r.Code, "progress_id": r.ID.String(), "version": to.Label}}); err != nil {
				return err
			}
			continue
		}
		if _, err := db.ExecContext(ctx, "UPDATE goal_progress SET version_id = ? WHERE tenant_id = ? AND id = ?", toVersion, tenantID, r.ID); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, "UPDATE plan_assignments SET version_id = ? WHERE tenant_id = ? AND lis_id = ? AND archived_at IS NULL", toVersion, tenantID, lisID)
	return err
}

// StricterSince reports, for each goal code with the catalogue version an
// approval of it was made under, whether a published version after that one,
// up to toVersion, marked the goal stricter: then the approval does not carry
// into a plan of toVersion (the rule Migrate applies within a tenant). One
// query for all codes.
func StricterSince(ctx context.Context, db bun.IDB, toVersion int, approvedUnder map[string]int) (map[string]bool, error) {
	out := map[string]bool{}
	if len(approvedUnder) == 0 {
		return out, nil
	}
	codes := make([]string, 0, len(approvedUnder))
	versions := make([]int, 0, len(approvedUnder))
	for c, v := range approvedUnder {
		codes = append(codes, c)
		versions = append(versions, v)
	}
	var rows []struct {
		Code     string `bun:"code"`
		Stricter bool   `bun:"stricter"`
	}
	err := db.NewRaw(`SELECT x.code, EXISTS (SELECT 1 FROM goals g JOIN catalog_versions v ON v.id = g.version_id
			WHERE g.code = x.code AND g.stricter AND v.published_at IS NOT NULL
			AND v.published_at > (SELECT coalesce(published_at, '-infinity') FROM catalog_versions WHERE id = x.version_id)
			AND v.published_at <= (SELECT coalesce(published_at, 'infinity') FROM catalog_versions WHERE id = ?)) AS stricter
		FROM unnest(?::text[], ?::int[]) AS x (code, version_id)`, toVersion, pgdialect.Array(codes), pgdialect.Array(versions)).Scan(ctx, &rows)
	for _, r := range rows {
		out[r.Code] = r.Stricter
	}
	return out, err
}

// Labels fills in the labels of the catalogue versions keyed in versions.
func Labels(ctx context.Context, db bun.IDB, versions map[int]string) error {
	if len(versions) == 0 {
		return nil
	}
	ids := make([]int, 0, len(versions))
	for id := range versions {
		ids = append(ids, id)
	}
	var rows []struct {
		ID    int    `bun:"id"`
		Label string `bun:"label"`
	}
	if err := db.NewRaw("SELECT id, label FROM catalog_versions WHERE id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return err
	}
	for _, r := range rows {
		versions[r.ID] = r.Label
	}
	return nil
}
