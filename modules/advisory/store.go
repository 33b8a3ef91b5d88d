package advisory

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/storage"
	"kportal/tenants"
)

// Session statuses.
const (
	StatusPlanned   = "planned"
	StatusCompleted = "completed"
)

// Note kinds.
const (
	KindPreparation = "preparation"
	KindMinutes     = "minutes"
)

// Outbox topics (the notifications module delivers them).
const (
	TopicPlanned        = "advisory.planned"         // to the LIS, when a samtale is planned
	TopicPreparationDue = "advisory.preparation_due" // to LIS and veileder, two days before, without a forberedelse
)

// DefaultReminderMonths is the overdue period of a tenant that never chose.
const DefaultReminderMonths = 6

// StatusText is a status in Norwegian.
func StatusText(s string) string {
	switch s {
	case StatusPlanned:
		return "Planlagt"
	case StatusCompleted:
		return "Ferdigstilt"
	}
	return "Ingen samtale"
}

// Store holds veiledningssamtaler. Every method runs in a transaction with
// one tenant (and the acting person) in force.
type Store struct {
	db  bun.IDB
	now func() time.Time
}

// NewStore returns a store on db.
func NewStore(db bun.IDB) *Store { return &Store{db: db, now: time.Now} }

func (s *Store) tx(ctx context.Context, tenantID, person uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: person}, fn)
}

// Session is one veiledningssamtale. Its texts are in Notes, loaded only for
// those who may read them.
type Session struct {
	TenantID    uuid.UUID  `bun:"tenant_id"`
	ID          uuid.UUID  `bun:"id"`
	LisID       uuid.UUID  `bun:"lis_id"`
	AdvisorID   uuid.UUID  `bun:"advisor_id"`
	StartsAt    time.Time  `bun:"starts_at"`
	Place       string     `bun:"place"`
	Topics      string     `bun:"topics"`
	GoalCodes   []string   `bun:"goal_codes,array"`
	Status      string     `bun:"status"`
	CompletedAt *time.Time `bun:"completed_at"`
	LisName     string     `bun:"lis_name"`
	AdvisorName string     `bun:"advisor_name"`
	TenantName  string     `bun:"tenant_name"`
	Readable    bool       `bun:"readable"` // List: the viewer may open it
	Follows     bool       `bun:"follows"`  // List: as leder or UAO
	Notes       []Note     `bun:"-"`
}

// StatusText is the session's status in Norwegian.
func (s *Session) StatusText() string { return StatusText(s.Status) }

// Completed reports whether the session is read-only.
func (s *Session) Completed() bool { return s.Status == StatusCompleted }

// IsVideo reports whether the place is a link (shown as one).
func (s *Session) IsVideo() bool { return strings.HasPrefix(s.Place, "https://") }

// Note is a forberedelse or referat by one of the two.
type Note struct {
	Kind       string    `bun:"kind"`
	AuthorID   uuid.UUID `bun:"author_id"`
	AuthorName string    `bun:"author_name"`
	Text       string    `bun:"text"`
	UpdatedAt  time.Time `bun:"updated_at"`
}

// NoteBy returns the text of kind written by person ("" when none).
func (s *Session) NoteBy(kind string, person uuid.UUID) string {
	for _, n := range s.Notes {
		if n.Kind == kind && n.AuthorID == person {
			return n.Text
		}
	}
	return ""
}

// NotesOf returns the notes of a kind.
func (s *Session) NotesOf(kind string) []Note {
	var out []Note
	for _, n := range s.Notes {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

const sessionColumns = `s.tenant_id, s.id, s.lis_id, s.advisor_id, s.starts_at, s.place, s.topics, s.goal_codes, s.status, s.completed_at,
	trim(l.given_name || ' ' || l.family_name) AS lis_name, trim(a.given_name || ' ' || a.family_name) AS advisor_name, t.name AS tenant_name`

const sessionFrom = ` FROM advisory_sessions s JOIN people l ON l.id = s.lis_id JOIN people a ON a.id = s.advisor_id JOIN tenants t ON t.id = s.tenant_id`

// Plan is what the veileder fills in to plan a samtale.
type Plan struct {
	LisID  string
	Date   string // 2006-01-02, Oslo
	Time   string // 15:04, Oslo
	Place  string
	Topics string
	Goals  string // goal codes separated by commas or spaces
}

// Create plans a samtale: advisor must be the LIS's veileder. The LIS is told
// (advisory.planned).
func (s *Store) Create(ctx context.Context, tenantID uuid.UUID, advisor tenants.Actor, in Plan) (*Session, error) {
	fields := map[string]string{}
	lisID, err := uuid.Parse(in.LisID)
	if err != nil {
		fields["lis"] = "Velg en LIS."
	}
	startsAt, err := time.ParseInLocation("2006-01-02 15:04", strings.TrimSpace(in.Date)+" "+strings.TrimSpace(in.Time), web.Oslo)
	if err != nil {
		fields["date"] = "Oppgi dato og klokkeslett."
	}
	place, topics := strings.TrimSpace(in.Place), strings.TrimSpace(in.Topics)
	if place == "" {
		fields["place"] = "Oppgi sted eller videolenke."
	} else if utf8.RuneCountInString(place) > 500 {
		fields["place"] = "Sted eller lenke kan ha høyst 500 tegn."
	}
	if utf8.RuneCountInString(topics) > 4000 {
		fields["topics"] = "Temaene kan ha høyst 4000 tegn."
	}
	codes := strings.FieldsFunc(strings.ToUpper(in.Goals), func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	var out *Session
	err = s.tx(ctx, tenantID, advisor.PersonID, func(ctx context.Context, tx bun.Tx) error {
		if fields["lis"] == "" {
			ok, err := tenants.Advises(ctx, tx, tenantID, advisor.PersonID, lisID)
			if err != nil {
				return err
			}
			if !ok {
				fields["lis"] = "Du er ikke veileder for denne LIS-en."
			}
		}
		if fields["lis"] == "" && len(codes) > 0 {
			plan, err := activities.PlanGoals(ctx, tx, tenantID, lisID)
			if err != nil {
				return err
			}
			for _, c := range codes {
				if !slices.Contains(plan, c) {
					fields["goals"] = "Læringsmålet " + c + " er ikke i planen til LIS-en."
					break
				}
			}
		}
		if len(fields) > 0 {
			return apperr.InvalidFields(fields)
		}
		var id uuid.UUID
		if err := tx.NewRaw(`INSERT INTO advisory_sessions (tenant_id, lis_id, advisor_id, starts_at, place, topics, goal_codes)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, tenantID, lisID, advisor.PersonID, startsAt, place, topics, pgdialect.Array(dedupe(codes))).Scan(ctx, &id); err != nil {
			return err
		}
		payload := eventPayload(id, startsAt)
		payload["advisor_name"], payload["place"] = advisor.Name, place
		if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: TopicPlanned, Recipient: lisID, Payload: payload}); err != nil {
			return err
		}
		out, err = loadSession(ctx, tx, tenantID, id)
		return err
	})
	return out, err
}

// eventPayload is what a samtale's notifications say and link to (the
// notifications module reads when, path and advisor_name).
func eventPayload(id uuid.UUID, startsAt time.Time) map[string]any {
	return map[string]any{"session_id": id, "starts_at": startsAt,
		"when": startsAt.In(web.Oslo).Format("2.1.2006 kl. 15.04"), "path": "/veiledning/" + id.String()}
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

func dedupe(codes []string) []string {
	out := []string{}
	for _, c := range codes {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func loadSession(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID) (*Session, error) {
	var ss []Session
	if err := tx.NewRaw(`SELECT `+sessionColumns+sessionFrom+` WHERE s.tenant_id = ? AND s.id = ?`, tenantID, id).Scan(ctx, &ss); err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, apperr.Default(apperr.NotFound)
	}
	ss[0].inOslo()
	return &ss[0], nil
}

func (s *Session) inOslo() {
	s.StartsAt = s.StartsAt.In(web.Oslo)
	if s.CompletedAt != nil {
		t := s.CompletedAt.In(web.Oslo)
		s.CompletedAt = &t
	}
}

// Party is how a person takes part in a samtale; PartyNone may not read its text.
type Party int

const (
	PartyNone Party = iota
	PartyLIS
	PartyAdvisor // the samtale's veileder or the LIS's veileder now
)

// partyOf decides who person is to the session: its LIS, its veileder, or the
// LIS's veileder now (after a change of veileder, or in another helseforetak
// of the same RHF, where the row is visible through same_rhf_history).
func partyOf(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, s *Session, person uuid.UUID) (Party, error) {
	switch person {
	case s.LisID:
		return PartyLIS, nil
	case s.AdvisorID:
		if s.TenantID == tenantID {
			return PartyAdvisor, nil
		}
	}
	ok, err := tenants.Advises(ctx, tx, tenantID, person, s.LisID)
	if err != nil || !ok {
		return PartyNone, err
	}
	return PartyAdvisor, nil
}

// Get returns a samtale with its texts for the LIS or a veileder of it; to
// anyone else (a leder, a UAO, another veileder) it does not exist. The
// samtale may be held in another helseforetak of the same RHF (read-only).
func (s *Store) Get(ctx context.Context, tenantID, person, id uuid.UUID) (*Session, Party, error) {
	var out *Session
	var party Party
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		var ss []Session
		// No tenant filter: the row policies decide (this tenant, or the history of the same RHF).
		if err := tx.NewRaw(`SELECT `+sessionColumns+sessionFrom+` WHERE s.id = ?`, id).Scan(ctx, &ss); err != nil {
			return err
		}
		if len(ss) != 1 {
			return apperr.New(apperr.NotFound, "Fant ikke samtalen.")
		}
		var err error
		if party, err = partyOf(ctx, tx, tenantID, &ss[0], person); err != nil {
			return err
		}
		if party == PartyNone {
			return apperr.New(apperr.NotFound, "Fant ikke samtalen.")
		}
		ss[0].inOslo()
		out = &ss[0]
		return tx.NewRaw(`SELECT n.kind, n.author_id, trim(p.given_name || ' ' || p.family_name) AS author_name, n.text, n.updated_at
			FROM advisory_notes n JOIN people p ON p.id = n.author_id
			WHERE n.tenant_id = ? AND n.session_id = ? AND n.text <> '' ORDER BY n.kind, n.author_id = ? DESC, author_name`, out.TenantID, id, out.LisID).Scan(ctx, &out.Notes)
	})
	return out, party, err
}

// writable locks the samtale for a change by person and says why not, when not.
func writable(ctx context.Context, tx bun.IDB, tenantID, person, id uuid.UUID) (*Session, Party, error) {
	var ss []Session
	if err := tx.NewRaw(`SELECT s.tenant_id, s.id, s.lis_id, s.advisor_id, s.status FROM advisory_sessions s
		WHERE s.tenant_id = ? AND s.id = ? FOR UPDATE`, tenantID, id).Scan(ctx, &ss); err != nil {
		return nil, PartyNone, err
	}
	if len(ss) == 0 {
		return nil, PartyNone, apperr.New(apperr.NotFound, "Fant ikke samtalen.")
	}
	party, err := partyOf(ctx, tx, tenantID, &ss[0], person)
	if err != nil {
		return nil, PartyNone, err
	}
	if party == PartyNone {
		return nil, PartyNone, apperr.New(apperr.NotFound, "Fant ikke samtalen.")
	}
	if ss[0].Status == StatusCompleted {
		return nil, party, apperr.New(apperr.Conflict, "Samtalen er ferdigstilt og kan ikke endres lenger.")
	}
	if party == PartyAdvisor {
		// The veileder who held it still reads it after a change of veileder;
		// only the LIS's veileder now writes or completes it.
		ok, err := tenants.Advises(ctx, tx, tenantID, person, ss[0].LisID)
		if err != nil {
			return nil, party, err
		}
		if !ok {
			return nil, party, apperr.New(apperr.Forbidden, "Du er ikke lenger veileder for denne LIS-en. Samtalen kan leses, men ikke endres.")
		}
	}
	return &ss[0], party, nil
}

// SaveNote saves person's forberedelse or referat as a draft (an empty text
// counts as none). Refused once the samtale is completed.
func (s *Store) SaveNote(ctx context.Context, tenantID uuid.UUID, author tenants.Actor, id uuid.UUID, kind, text string) error {
	if kind != KindPreparation && kind != KindMinutes {
		return apperr.InvalidFields(map[string]string{"text": "Ukjent type tekst."})
	}
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if utf8.RuneCountInString(text) > 20000 {
		return apperr.InvalidFields(map[string]string{"text": "Teksten kan ha høyst 20 000 tegn."})
	}
	return s.tx(ctx, tenantID, author.PersonID, func(ctx context.Context, tx bun.Tx) error {
		if _, _, err := writable(ctx, tx, tenantID, author.PersonID, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO advisory_notes (tenant_id, session_id, kind, author_id, text) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, session_id, kind, author_id) DO UPDATE SET text = EXCLUDED.text, updated_at = now()`,
			tenantID, id, kind, author.PersonID, text)
		return err
	})
}

// Complete ferdigstiller the samtale: only a veileder, only with a referat.
// Afterwards it is read-only.
func (s *Store) Complete(ctx context.Context, tenantID uuid.UUID, advisor tenants.Actor, id uuid.UUID) error {
	return s.tx(ctx, tenantID, advisor.PersonID, func(ctx context.Context, tx bun.Tx) error {
		_, party, err := writable(ctx, tx, tenantID, advisor.PersonID, id)
		if err != nil {
			return err
		}
		if party != PartyAdvisor {
			return apperr.New(apperr.Forbidden, "Bare veilederen kan ferdigstille samtalen.")
		}
		has, err := storage.Exists(ctx, tx, "SELECT 1 FROM advisory_notes WHERE tenant_id = ? AND session_id = ? AND kind = 'minutes' AND text <> ''", tenantID, id)
		if err != nil {
			return err
		}
		if !has {
			return apperr.New(apperr.Conflict, "Skriv et referat før du ferdigstiller samtalen.")
		}
		_, err = tx.ExecContext(ctx, "UPDATE advisory_sessions SET status = 'completed', completed_at = ?, completed_by = ? WHERE tenant_id = ? AND id = ?",
			s.now(), advisor.PersonID, tenantID, id)
		return err
	})
}

// List is the samtaler person sees on the samtaler page, newest first. As LIS
// their own (also those held earlier in another helseforetak of the same RHF),
// as veileder those of their LIS: these are Readable. As leder or UAO those of
// the LIS they manage or cover, with date, names and status only.
func (s *Store) List(ctx context.Context, tenantID, person uuid.UUID) ([]Session, error) {
	var out []Session
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT * FROM (SELECT `+sessionColumns+`,
				s.lis_id = ?0 OR (s.tenant_id = ?1 AND s.advisor_id = ?0) OR EXISTS (SELECT 1 FROM relations r
					WHERE r.tenant_id = ?1 AND r.lis_id = s.lis_id AND r.kind = 'veileder' AND r.person_id = ?0) AS readable,
				s.tenant_id = ?1 AND (EXISTS (SELECT 1 FROM relations r WHERE r.tenant_id = ?1 AND r.lis_id = s.lis_id AND r.kind = 'leder' AND r.person_id = ?0)
					OR EXISTS (SELECT 1 FROM person_specialties u JOIN person_specialties l ON l.tenant_id = u.tenant_id AND l.specialty = u.specialty AND l.role = 'lis'
						WHERE u.tenant_id = ?1 AND u.person_id = ?0 AND u.role = 'uao' AND l.person_id = s.lis_id)) AS follows
			`+sessionFrom+`
			-- What the row policies let through anyway, said so an index can find it.
			WHERE s.tenant_id = ?1 OR s.lis_id = ?0 OR s.lis_id IN (SELECT r.lis_id FROM relations r
				WHERE r.tenant_id = ?1 AND r.person_id = ?0 AND r.kind = 'veileder')) x
			WHERE readable OR follows ORDER BY starts_at DESC`, person, tenantID).Scan(ctx, &out)
	})
	for i := range out {
		out[i].inOslo()
		if !out[i].Readable { // date, names and status only
			out[i].Place, out[i].Topics, out[i].GoalCodes = "", "", nil
		}
	}
	return out, err
}

// Option is a LIS in the veileder's form.
type Option struct {
	ID   uuid.UUID `bun:"id"`
	Name string    `bun:"name"`
}

// AdvisedLIS lists the LIS person is veileder for in the tenant.
func (s *Store) AdvisedLIS(ctx context.Context, tenantID, person uuid.UUID) ([]Option, error) {
	var out []Option
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT p.id, trim(p.given_name || ' ' || p.family_name) AS name FROM relations r JOIN people p ON p.id = r.lis_id
			WHERE r.tenant_id = ? AND r.person_id = ? AND r.kind = 'veileder' ORDER BY name`, tenantID, person).Scan(ctx, &out)
	})
	return out, err
}

// Summary is what anyone following a LIS (leder, UAO) may know of their
// samtaler: the last one's date and status, the last completed one, and
// whether a samtale is overdue.
type Summary struct {
	LisID         uuid.UUID  `bun:"lis_id"`
	LastAt        *time.Time `bun:"last_at"`
	LastStatus    string     `bun:"last_status"`
	LastCompleted *time.Time `bun:"last_completed"`
	Since         *time.Time `bun:"since"` // the active plan's start, for a LIS who never had a samtale
	Overdue       bool       `bun:"-"`
}

// LastStatusText is the last samtale's status in Norwegian.
func (s Summary) LastStatusText() string { return StatusText(s.LastStatus) }

// Summaries returns the summary of each LIS in the tenant in force in tx,
// with Overdue set by the tenant's setting: no completed samtale in the last
// months (counted from the plan's start for a LIS who never had one).
func Summaries(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, lisIDs []uuid.UUID, now time.Time) (map[uuid.UUID]Summary, error) {
	out := map[uuid.UUID]Summary{}
	if len(lisIDs) == 0 {
		return out, nil
	}
	months, err := ReminderMonths(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	var rows []Summary
	err = tx.NewRaw(`SELECT l.id AS lis_id, last.starts_at AS last_at, coalesce(last.status, '') AS last_status,
			(SELECT max(s.starts_at) FROM advisory_sessions s WHERE s.tenant_id = ? AND s.lis_id = l.id AND s.status = 'completed') AS last_completed,
			(SELECT min(pa.assigned_at) FROM plan_assignments pa WHERE pa.tenant_id = ? AND pa.lis_id = l.id AND pa.archived_at IS NULL) AS since
		FROM unnest(?::uuid[]) AS l(id)
		LEFT JOIN LATERAL (SELECT s.starts_at, s.status FROM advisory_sessions s WHERE s.tenant_id = ? AND s.lis_id = l.id
			ORDER BY s.starts_at DESC LIMIT 1) last ON true`, tenantID, tenantID, pgdialect.Array(uuidStrings(lisIDs)), tenantID).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	limit := now.AddDate(0, -months, 0)
	for _, r := range rows {
		ref := r.LastCompleted
		if ref == nil {
			ref = r.Since
		}
		r.Overdue = ref == nil || ref.Before(limit)
		for _, t := range []*time.Time{r.LastAt, r.LastCompleted} {
			if t != nil {
				*t = t.In(web.Oslo)
			}
		}
		out[r.LisID] = r
	}
	return out, nil
}

// ReminderMonths is the tenant's setting (DefaultReminderMonths when unset).
func ReminderMonths(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (int, error) {
	var months int
	err := tx.NewRaw("SELECT reminder_months FROM advisory_settings WHERE tenant_id = ?", tenantID).Scan(ctx, &months)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultReminderMonths, nil
	}
	return months, err
}

// SetReminderMonths changes the tenant's setting.
func (s *Store) SetReminderMonths(ctx context.Context, tenantID uuid.UUID, months int) error {
	if months < 1 || months > 24 {
		return apperr.InvalidFields(map[string]string{"months": "Velg mellom 1 og 24 måneder."})
	}
	return s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO advisory_settings (tenant_id, reminder_months) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET reminder_months = EXCLUDED.reminder_months`, tenantID, months)
		return err
	})
}

// Months returns the tenant's setting.
func (s *Store) Months(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var months int
	err := s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		months, err = ReminderMonths(ctx, tx, tenantID)
		return err
	})
	return months, err
}

// RemindPreparations tells the LIS and the veileder (the LIS's veileder now,
// else the one who planned it) of each samtale starting
// within two days of now that their forberedelse is due, once per samtale and
// person (advisory.preparation_due), in every active tenant. It returns how
// many were told.
func RemindPreparations(ctx context.Context, db bun.IDB, now time.Time) (int, error) {
	var ids []uuid.UUID
	if err := db.NewRaw("SELECT id FROM tenants WHERE status = 'active' ORDER BY id").Scan(ctx, &ids); err != nil {
		return 0, err
	}
	told := 0
	var errs []error
	for _, tenantID := range ids {
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
			var due []struct {
				SessionID uuid.UUID `bun:"session_id"`
				PersonID  uuid.UUID `bun:"person_id"`
				StartsAt  time.Time `bun:"starts_at"`
			}
			// Each party without a forberedelse who was not told yet; the
			// insert is the record, so a second run tells nobody again.
			if err := tx.NewRaw(`INSERT INTO advisory_reminders (tenant_id, session_id, person_id)
				SELECT s.tenant_id, s.id, p.person_id FROM advisory_sessions s
				CROSS JOIN LATERAL (VALUES (s.lis_id), (coalesce((SELECT r.person_id FROM relations r WHERE r.tenant_id = s.tenant_id
					AND r.lis_id = s.lis_id AND r.kind = 'veileder'), s.advisor_id))) AS p(person_id)
				WHERE s.tenant_id = ? AND s.status = 'planned' AND s.starts_at > ? AND s.starts_at <= ?
				  AND NOT EXISTS (SELECT 1 FROM advisory_notes n WHERE n.tenant_id = s.tenant_id AND n.session_id = s.id
				    AND n.kind = 'preparation' AND n.author_id = p.person_id AND n.text <> '')
				ON CONFLICT DO NOTHING
				RETURNING session_id, person_id, (SELECT starts_at FROM advisory_sessions x WHERE x.tenant_id = advisory_reminders.tenant_id AND x.id = advisory_reminders.session_id) AS starts_at`,
				tenantID, now, now.Add(48*time.Hour)).Scan(ctx, &due); err != nil {
				return err
			}
			for _, d := range due {
				if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: TopicPreparationDue, Recipient: d.PersonID,
					Payload: eventPayload(d.SessionID, d.StartsAt)}); err != nil {
					return err
				}
			}
			told += len(due)
			return nil
		})
		// One tenant failing leaves the others' reminders due today.
		errs = append(errs, err)
	}
	return told, errors.Join(errs...)
}

// OwnSessions lists the samtaler the LIS took part in, in every tenant,
// newest first: date, status and veileder (Place, Topics and the texts stay
// on the samtale page). tx is a tenants.OwnRecordTx of that LIS.
func OwnSessions(ctx context.Context, tx bun.IDB, lisID uuid.UUID) ([]Session, error) {
	var out []Session
	err := tx.NewRaw(`SELECT `+sessionColumns+sessionFrom+` WHERE s.lis_id = ? ORDER BY s.starts_at DESC`, lisID).Scan(ctx, &out)
	for i := range out {
		out[i].inOslo()
		out[i].Place, out[i].Topics = "", ""
	}
	return out, err
}
