package plans

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/catalog"
	"kportal/tenants"
)

func init() {
	// A LIS who joins a tenant gets its automatic plans (kommune LIS1), in the
	// transaction that grants the role (tenants.GrantRole, AddMembership).
	tenants.Joined.Bind(func(ctx context.Context, j tenants.Join) error {
		if j.Role != "lis" {
			return nil
		}
		_, err := AssignAutomatic(ctx, j.Tx, j.TenantID, j.PersonID)
		return err
	})
}

// Arena is a læringsarena of a tenant.
type Arena struct {
	ID          uuid.UUID  `bun:"id"`
	Name        string     `bun:"name"`
	Description string     `bun:"description"`
	ArchivedAt  *time.Time `bun:"archived_at"`
}

func inTenant(ctx context.Context, db bun.IDB, tenantID uuid.UUID, fn func(ctx context.Context, tx bun.IDB) error) error {
	if d, ok := db.(*bun.DB); ok {
		return tenants.WithTenantTx(ctx, d, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
	}
	return fn(ctx, db)
}

func checkArena(name, description string) error {
	bad := map[string]string{}
	if n := len([]rune(strings.TrimSpace(name))); n < 1 || n > 200 {
		bad["name"] = "Skriv et navn (høyst 200 tegn)."
	}
	if len([]rune(description)) > 2000 {
		bad["description"] = "Beskrivelsen kan ha høyst 2000 tegn."
	}
	return apperr.InvalidFields(bad)
}

// Arenas lists a tenant's arenas, archived ones last.
func Arenas(ctx context.Context, db bun.IDB, tenantID uuid.UUID) ([]Arena, error) {
	var out []Arena
	err := inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		return tx.NewRaw("SELECT id, name, description, archived_at FROM arenas WHERE tenant_id = ? ORDER BY archived_at IS NOT NULL, name", tenantID).Scan(ctx, &out)
	})
	return out, err
}

// CreateArena adds an arena.
func CreateArena(ctx context.Context, db bun.IDB, tenantID uuid.UUID, name, description string) (*Arena, error) {
	if err := checkArena(name, description); err != nil {
		return nil, err
	}
	a := &Arena{Name: strings.TrimSpace(name), Description: strings.TrimSpace(description)}
	err := inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		if err := uniqueArenaName(ctx, tx, tenantID, uuid.Nil, a.Name); err != nil {
			return err
		}
		return tx.NewRaw("INSERT INTO arenas (tenant_id, name, description) VALUES (?, ?, ?) RETURNING id", tenantID, a.Name, a.Description).Scan(ctx, &a.ID)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// uniqueArenaName refuses a name another open arena of the tenant has (self
// is the arena being renamed, uuid.Nil for a new one).
func uniqueArenaName(ctx context.Context, tx bun.IDB, tenantID, self uuid.UUID, name string) error {
	var dup bool
	if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM arenas WHERE tenant_id = ? AND id <> ? AND lower(name) = lower(?) AND archived_at IS NULL)",
		tenantID, self, strings.TrimSpace(name)).Scan(ctx, &dup); err != nil {
		return err
	}
	if dup {
		return apperr.InvalidFields(map[string]string{"name": "Det finnes allerede en læringsarena med dette navnet."})
	}
	return nil
}

// UpdateArena renames an arena or changes its description.
func UpdateArena(ctx context.Context, db bun.IDB, tenantID, id uuid.UUID, name, description string) error {
	if err := checkArena(name, description); err != nil {
		return err
	}
	return inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		if err := uniqueArenaName(ctx, tx, tenantID, id, name); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, "UPDATE arenas SET name = ?, description = ? WHERE tenant_id = ? AND id = ?", strings.TrimSpace(name), strings.TrimSpace(description), tenantID, id)
		return notFound(r, err)
	})
}

// ArchiveArena takes an arena out of use (plans keep their references).
func ArchiveArena(ctx context.Context, db bun.IDB, tenantID, id uuid.UUID) error {
	return inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		r, err := tx.ExecContext(ctx, "UPDATE arenas SET archived_at = now() WHERE tenant_id = ? AND id = ? AND archived_at IS NULL", tenantID, id)
		return notFound(r, err)
	})
}

func notFound(r sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return apperr.Default(apperr.NotFound)
	}
	return nil
}

// Template is a plan template: catalogue goals of one version, each at some
// arenas, plus local activities.
type Template struct {
	ID         uuid.UUID  `bun:"id"`
	Name       string     `bun:"name"`
	Specialty  string     `bun:"specialty"` // a specialty code, or LIS1
	VersionID  int        `bun:"version_id"`
	AutoAssign bool       `bun:"auto_assign"`
	CreatedAt  time.Time  `bun:"created_at"`
	ArchivedAt *time.Time `bun:"archived_at"`
	Goals      []TemplateGoal
	Locals     []LocalActivity
}

// TemplateGoal is a goal of a template and the arenas where it can be reached.
type TemplateGoal struct {
	Code     string      `bun:"goal_code"`
	ArenaIDs []uuid.UUID `bun:"arena_ids,array"`
}

// LocalActivity is an activity a tenant adds to a template.
type LocalActivity struct {
	ID        uuid.UUID  `bun:"id"`
	Kind      string     `bun:"kind"`
	Name      string     `bun:"name"`
	ArenaID   *uuid.UUID `bun:"arena_id"`
	GoalCodes []string   `bun:"goal_codes,array"`
	Required  int        `bun:"required"`
}

// Kinds of local activities, with their Norwegian names.
var Kinds = []struct{ Value, Label string }{
	{"procedure", "Prosedyre"}, {"course", "Kurs"}, {"elearning", "E-læring"}, {"veiledning", "Veiledning"},
	{"supervisjon", "Supervisjon"}, {"service", "Tjeneste"}, {"simulation", "Simulering"}, {"selfstudy", "Selvstudium"}, {"other", "Annet"},
}

func validKind(k string) bool {
	for _, x := range Kinds {
		if x.Value == k {
			return true
		}
	}
	return false
}

// LIS1 is the specialty value of LIS1 plan templates.
const LIS1 = "LIS1"

// GoalPlans are the catalogue plans whose goals fit a template's specialty:
// LIS1 takes KLS, KLP and KLK; a specialty takes its own code and FKM.
func GoalPlans(specialty string) []string {
	if specialty == LIS1 {
		return []string{"KLS", "KLP", "KLK"}
	}
	return []string{specialty, "FKM"}
}

// Templates lists a tenant's templates (without goals and activities).
func Templates(ctx context.Context, db bun.IDB, tenantID uuid.UUID) ([]Template, error) {
	var out []Template
	err := inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		return tx.NewRaw("SELECT id, name, specialty, version_id, auto_assign, created_at, archived_at FROM plan_templates WHERE tenant_id = ? ORDER BY archived_at IS NOT NULL, name", tenantID).Scan(ctx, &out)
	})
	return out, err
}

// TemplateByID loads one template with its goals and local activities.
func TemplateByID(ctx context.Context, db bun.IDB, tenantID, id uuid.UUID) (*Template, error) {
	t := new(Template)
	err := inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		err := tx.NewRaw("SELECT id, name, specialty, version_id, auto_assign, created_at, archived_at FROM plan_templates WHERE tenant_id = ? AND id = ?", tenantID, id).Scan(ctx, t)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Default(apperr.NotFound)
		}
		if err != nil {
			return err
		}
		if err := tx.NewRaw("SELECT goal_code, arena_ids FROM plan_template_goals WHERE tenant_id = ? AND template_id = ? ORDER BY goal_code", tenantID, id).Scan(ctx, &t.Goals); err != nil {
			return err
		}
		return tx.NewRaw("SELECT id, kind, name, arena_id, goal_codes, required FROM local_activities WHERE tenant_id = ? AND template_id = ? ORDER BY name", tenantID, id).Scan(ctx, &t.Locals)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// SaveTemplate creates (t.ID zero) or updates a template with its goals. The
// goals must exist in the template's catalogue version and fit its specialty,
// and their arenas must be the tenant's. Local activities are saved apart
// (AddLocalActivity).
func SaveTemplate(ctx context.Context, db bun.IDB, tenantID uuid.UUID, t *Template) error {
	bad := map[string]string{}
	t.Name = strings.TrimSpace(t.Name)
	if n := len([]rune(t.Name)); n < 1 || n > 200 {
		bad["name"] = "Skriv et navn (høyst 200 tegn)."
	}
	if t.Specialty == "" {
		bad["specialty"] = "Velg spesialitet eller LIS1."
	}
	if t.VersionID == 0 {
		bad["version"] = "Ingen publisert katalogversjon finnes ennå."
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return err
	}
	return inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		v, err := catalog.VersionByID(ctx, tx, t.VersionID)
		if err != nil || !v.Published() {
			return apperr.InvalidFields(map[string]string{"version": "Velg en publisert katalogversjon."})
		}
		if t.Specialty != LIS1 {
			var ok bool
			if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM specialties WHERE code = ?)", t.Specialty).Scan(ctx, &ok); err != nil {
				return err
			}
			if !ok {
				return apperr.InvalidFields(map[string]string{"specialty": "Ukjent spesialitet."})
			}
		}
		goals, err := catalog.Goals(ctx, tx, t.VersionID, GoalPlans(t.Specialty)...)
		if err != nil {
			return err
		}
		known := map[string]bool{}
		for _, g := range goals {
			known[g.Code] = true
		}
		arenas, err := Arenas(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		ours := map[uuid.UUID]bool{}
		for _, a := range arenas {
			ours[a.ID] = true
		}
		for _, g := range t.Goals {
			if !known[g.Code] {
				return apperr.InvalidFields(map[string]string{"goals": fmt.Sprintf("Målet %s finnes ikke for %s i katalogversjonen.", g.Code, t.Specialty)})
			}
			for _, a := range g.ArenaIDs {
				if !ours[a] {
					return apperr.InvalidFields(map[string]string{"goals": "Ukjent læringsarena."})
				}
			}
		}
		if t.ID == uuid.Nil {
			err = tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id, auto_assign) VALUES (?, ?, ?, ?, ?) RETURNING id, created_at",
				tenantID, t.Name, t.Specialty, t.VersionID, t.AutoAssign).Scan(ctx, &t.ID, &t.CreatedAt)
		} else {
			var r sql.Result
			r, err = tx.ExecContext(ctx, "UPDATE plan_templates SET name = ?, specialty = ?, version_id = ?, auto_assign = ? WHERE tenant_id = ? AND id = ? AND archived_at IS NULL",
				t.Name, t.Specialty, t.VersionID, t.AutoAssign, tenantID, t.ID)
			err = notFound(r, err)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM plan_template_goals WHERE tenant_id = ? AND template_id = ?", tenantID, t.ID); err != nil {
			return err
		}
		for _, g := range t.Goals {
			ids := g.ArenaIDs
			if ids == nil {
				ids = []uuid.UUID{}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_template_goals (tenant_id, template_id, goal_code, arena_ids) VALUES (?, ?, ?, ?)",
				tenantID, t.ID, g.Code, pgUUIDs(ids)); err != nil {
				return err
			}
		}
		return nil
	})
}

// pgUUIDs is a uuid[] literal parameter.
func pgUUIDs(ids []uuid.UUID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return "{" + strings.Join(s, ",") + "}"
}

// ArchiveTemplate takes a template out of use; assignments made from it stay.
func ArchiveTemplate(ctx context.Context, db bun.IDB, tenantID, id uuid.UUID) error {
	return inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		r, err := tx.ExecContext(ctx, "UPDATE plan_templates SET archived_at = now(), auto_assign = false WHERE tenant_id = ? AND id = ? AND archived_at IS NULL", tenantID, id)
		return notFound(r, err)
	})
}

// AddLocalActivity adds a local activity to a template.
func AddLocalActivity(ctx context.Context, db bun.IDB, tenantID, templateID uuid.UUID, a *LocalActivity) error {
	bad := map[string]string{}
	a.Name = strings.TrimSpace(a.Name)
	if n := len([]rune(a.Name)); n < 1 || n > 200 {
		bad["local_name"] = "Skriv et navn (høyst 200 tegn)."
	}
	if !validKind(a.Kind) {
		bad["local_kind"] = "Velg type."
	}
	if a.Required < 0 || a.Required > 10000 {
		bad["local_required"] = "Antall må være mellom 0 og 10000."
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return err
	}
	return inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		t, err := TemplateByID(ctx, tx, tenantID, templateID)
		if err != nil {
			return err
		}
		inTemplate := map[string]bool{}
		for _, g := range t.Goals {
			inTemplate[g.Code] = true
		}
		for _, c := range a.GoalCodes {
			if !inTemplate[c] {
				return apperr.InvalidFields(map[string]string{"local_goals": fmt.Sprintf("Målet %s er ikke i planen.", c)})
			}
		}
		if a.ArenaID != nil {
			var ok bool
			if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM arenas WHERE tenant_id = ? AND id = ?)", tenantID, *a.ArenaID).Scan(ctx, &ok); err != nil {
				return err
			}
			if !ok {
				return apperr.InvalidFields(map[string]string{"local_arena": "Ukjent læringsarena."})
			}
		}
		codes := a.GoalCodes
		if codes == nil {
			codes = []string{}
		}
		return tx.NewRaw("INSERT INTO local_activities (tenant_id, template_id, kind, name, arena_id, goal_codes, required) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
			tenantID, templateID, a.Kind, a.Name, a.ArenaID, pgArray(codes), a.Required).Scan(ctx, &a.ID)
	})
}

func pgArray(s []string) any { return pgdialectArray(s) }

// RemoveLocalActivity deletes a local activity from a template.
func RemoveLocalActivity(ctx context.Context, db bun.IDB, tenantID, templateID, id uuid.UUID) error {
	return inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		r, err := tx.ExecContext(ctx, "DELETE FROM local_activities WHERE tenant_id = ? AND template_id = ? AND id = ?", tenantID, templateID, id)
		return notFound(r, err)
	})
}

// Assignment is a plan assigned to a LIS.
type Assignment struct {
	ID           uuid.UUID  `bun:"id"`
	LisID        uuid.UUID  `bun:"lis_id"`
	LisName      string     `bun:"lis_name"`
	TemplateID   uuid.UUID  `bun:"template_id"`
	TemplateName string     `bun:"template_name"`
	VersionID    int        `bun:"version_id"`
	AssignedBy   *uuid.UUID `bun:"assigned_by"`
	AssignedAt   time.Time  `bun:"assigned_at"`
	ArchivedAt   *time.Time `bun:"archived_at"`
}

const assignmentCols = `a.id, a.lis_id, trim(p.given_name || ' ' || p.family_name) AS lis_name, a.template_id, t.name AS template_name,
	a.version_id, a.assigned_by, a.assigned_at, a.archived_at
	FROM plan_assignments a JOIN plan_templates t ON t.tenant_id = a.tenant_id AND t.id = a.template_id JOIN people p ON p.id = a.lis_id`

// Assignments lists a tenant's assignments; lisIDs narrows to some LIS (nil: all).
func Assignments(ctx context.Context, db bun.IDB, tenantID uuid.UUID, lisIDs []uuid.UUID) ([]Assignment, error) {
	var out []Assignment
	err := inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		q := "SELECT " + assignmentCols + " WHERE a.tenant_id = ?"
		args := []any{tenantID}
		if lisIDs != nil {
			if len(lisIDs) == 0 {
				return nil
			}
			q += " AND a.lis_id IN (?)"
			args = append(args, bun.In(lisIDs))
		}
		return tx.NewRaw(q+" ORDER BY a.archived_at IS NOT NULL, lis_name, a.assigned_at DESC", args...).Scan(ctx, &out)
	})
	return out, err
}

// insertAssignment assigns a template to a LIS in tx (tenant in force) and
// tells the LIS; it returns nil when the LIS has it already (active).
func insertAssignment(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID, t *Template, by *uuid.UUID) (*Assignment, error) {
	a := &Assignment{LisID: lisID, TemplateID: t.ID, TemplateName: t.Name, VersionID: t.VersionID, AssignedBy: by}
	err := tx.NewRaw(`INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id, assigned_by) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, lis_id, template_id) WHERE archived_at IS NULL DO NOTHING RETURNING id, assigned_at`,
		tenantID, lisID, t.ID, t.VersionID, by).Scan(ctx, &a.ID, &a.AssignedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return a, tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: "plan.assigned", Recipient: lisID,
		Payload: map[string]any{"assignment_id": a.ID.String(), "template": t.Name}})
}

// Assign gives a LIS a plan from a template. The leder must manage the LIS
// (tenants.Manages); the LIS must hold the lis role here.
func Assign(ctx context.Context, db bun.IDB, tenantID uuid.UUID, leder tenants.Actor, lisID, templateID uuid.UUID) (*Assignment, error) {
	var out *Assignment
	err := inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		ok, err := tenants.Manages(ctx, tx, tenantID, leder.PersonID, lisID)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.InvalidFields(map[string]string{"lis": "Du er ikke leder for denne LIS-en."})
		}
		t, err := TemplateByID(ctx, tx, tenantID, templateID)
		if apperr.Is(err, apperr.NotFound) || (err == nil && t.ArchivedAt != nil) {
			return apperr.InvalidFields(map[string]string{"template": "Velg en plan."})
		}
		if err != nil {
			return err
		}
		by := leder.PersonID
		if out, err = insertAssignment(ctx, tx, tenantID, lisID, t, &by); err != nil {
			return err
		}
		if out == nil {
			return apperr.InvalidFields(map[string]string{"template": "LIS-en har allerede denne planen."})
		}
		return nil
	})
	return out, err
}

// ArchiveAssignment archives an assignment of a LIS the leder manages. An
// archived plan is never re-activated: assigning again makes a new one.
func ArchiveAssignment(ctx context.Context, db bun.IDB, tenantID uuid.UUID, leder tenants.Actor, id uuid.UUID) error {
	return inTenant(ctx, db, tenantID, func(ctx context.Context, tx bun.IDB) error {
		var lis uuid.UUID
		err := tx.NewRaw("SELECT lis_id FROM plan_assignments WHERE tenant_id = ? AND id = ? AND archived_at IS NULL", tenantID, id).Scan(ctx, &lis)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Default(apperr.NotFound)
		}
		if err != nil {
			return err
		}
		ok, err := tenants.Manages(ctx, tx, tenantID, leder.PersonID, lis)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Default(apperr.NotFound)
		}
		_, err = tx.ExecContext(ctx, "UPDATE plan_assignments SET archived_at = now() WHERE tenant_id = ? AND id = ?", tenantID, id)
		return err
	})
}

// AssignAutomatic gives a LIS every active auto_assign template of the
// tenant they do not have yet; tx must have tenantID in force (or be a
// *bun.DB). It is called when a person gets the lis role (see init).
func AssignAutomatic(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) ([]Assignment, error) {
	var out []Assignment
	err := inTenant(ctx, tx, tenantID, func(ctx context.Context, tx bun.IDB) error {
		var ts []Template
		if err := tx.NewRaw("SELECT id, name, specialty, version_id, auto_assign FROM plan_templates WHERE tenant_id = ? AND auto_assign AND archived_at IS NULL", tenantID).Scan(ctx, &ts); err != nil {
			return err
		}
		for i := range ts {
			a, err := insertAssignment(ctx, tx, tenantID, lisID, &ts[i], nil)
			if err != nil {
				return err
			}
			if a != nil {
				out = append(out, *a)
			}
		}
		return nil
	})
	return out, err
}

// OwnAssignment is one of a LIS's plans in any tenant (Min utdanning).
type OwnAssignment struct {
	TenantID uuid.UUID `bun:"tenant_id"`
	Assignment
}

// OwnAssignments lists the LIS's plans in every tenant, current first. tx is
// a tenants.OwnRecordTx of that LIS: the own_record policies decide what is
// seen.
func OwnAssignments(ctx context.Context, tx bun.IDB, lisID uuid.UUID) ([]OwnAssignment, error) {
	var out []OwnAssignment
	err := tx.NewRaw("SELECT a.tenant_id, "+assignmentCols+" WHERE a.lis_id = ? ORDER BY a.archived_at IS NOT NULL, a.assigned_at DESC", lisID).Scan(ctx, &out)
	return out, err
}

// AssignInTx gives a LIS the plan of a template in tx (the tenant in force),
// recorded as assigned by by (nil: kportal). It returns the active assignment
// of that template, new or the one the LIS already had. The transfers module
// assigns the new workplace's plan with it in the move's own transaction.
func AssignInTx(ctx context.Context, tx bun.IDB, tenantID, lisID, templateID uuid.UUID, by *uuid.UUID) (*Assignment, error) {
	t, err := TemplateByID(ctx, tx, tenantID, templateID)
	if err != nil {
		return nil, err
	}
	if t.ArchivedAt != nil {
		return nil, apperr.New(apperr.Invalid, "Planen %q er arkivert.", t.Name)
	}
	a, err := insertAssignment(ctx, tx, tenantID, lisID, t, by)
	if err != nil || a != nil {
		return a, err
	}
	return ActiveTemplate(ctx, tx, tenantID, lisID, templateID)
}

// EndActive ends every active plan of the LIS in the tenant in force in tx (a
// move away: ended, never re-activated) and returns how many.
func EndActive(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) (int, error) {
	res, err := tx.ExecContext(ctx, "UPDATE plan_assignments SET archived_at = now() WHERE tenant_id = ? AND lis_id = ? AND archived_at IS NULL", tenantID, lisID)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ActiveOfSpecialty reports whether the LIS has an active plan of the
// specialty in the tenant in force in tx, other than one of template except.
func ActiveOfSpecialty(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID, specialty string, except uuid.UUID) (bool, error) {
	var ok bool
	err := tx.NewRaw(`SELECT EXISTS (SELECT 1 FROM plan_assignments a JOIN plan_templates t ON t.tenant_id = a.tenant_id AND t.id = a.template_id
		WHERE a.tenant_id = ? AND a.lis_id = ? AND a.archived_at IS NULL AND t.specialty = ? AND a.template_id <> ?)`,
		tenantID, lisID, specialty, except).Scan(ctx, &ok)
	return ok, err
}

// ActiveTemplate returns the LIS's active assignment of template in the
// tenant in force in tx, or nil.
func ActiveTemplate(ctx context.Context, tx bun.IDB, tenantID, lisID, templateID uuid.UUID) (*Assignment, error) {
	var out []Assignment
	err := tx.NewRaw("SELECT "+assignmentCols+" WHERE a.tenant_id = ? AND a.lis_id = ? AND a.template_id = ? AND a.archived_at IS NULL",
		tenantID, lisID, templateID).Scan(ctx, &out)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return &out[0], nil
}
