package history

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/activities"
	"kportal/modules/chain"
	"kportal/modules/documents"
	"kportal/modules/pdfdoc"
	"kportal/modules/web"
	"kportal/tenants"
)

// DossierActivityLimit bounds the activities the dossier reads (its courses
// come from them); far above any LIS's record.
const DossierActivityLimit = 100000

// Dossier is the LIS's documentation for the application for
// spesialistgodkjenning, from every workplace: the same as PDF and JSON.
type Dossier struct {
	Name        string            `json:"name"`
	HPR         string            `json:"hpr_number,omitempty"`
	GeneratedAt time.Time         `json:"generated_at"`
	Workplaces  []string          `json:"workplaces"`
	Goals       []DossierGoal     `json:"approved_goals"`
	Procedures  []ProcedureTotal  `json:"procedures"`
	Courses     []DossierCourse   `json:"courses"`
	Kursbevis   []DossierDocument `json:"kursbevis"`
	Chain       *DossierChain     `json:"chain,omitempty"`
}

// DossierGoal is an approved goal, listed once where it was approved.
type DossierGoal struct {
	Code          string     `json:"code"`
	Text          string     `json:"text"`
	VersionID     int        `json:"catalogue_version_id"`
	PriorLearning bool       `json:"prior_learning"`
	ApprovedBy    string     `json:"approved_by"`
	Where         string     `json:"where"`
	ApprovedAt    *time.Time `json:"approved_at"`
}

// DossierCourse is a course the LIS registered.
type DossierCourse struct {
	Title     string `json:"title"`
	DoneOn    string `json:"done_on"`
	Status    string `json:"status"`
	Where     string `json:"where"`
	Kursbevis string `json:"kursbevis,omitempty"`
}

// DossierDocument is an attached kursbevis (its name; the file stays in kportal).
type DossierDocument struct {
	Name       string    `json:"name"`
	Where      string    `json:"where"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// DossierChain is the head of the LIS's tamper-evident chain: anyone can
// check the code at /verifiser/<code>.
type DossierChain struct {
	Code  string    `json:"code"`
	Links int64     `json:"links"`
	At    time.Time `json:"at"`
}

// BuildDossier assembles person's dossier from their national record
// (Load's reader). person must be the signed-in viewer.
func BuildDossier(ctx context.Context, db bun.IDB, person uuid.UUID, now time.Time) (*Dossier, error) {
	rec, err := load(ctx, db, person, tenants.OwnRecordTx, DossierActivityLimit, false)
	if err != nil {
		return nil, err
	}
	d := &Dossier{GeneratedAt: now.In(web.Oslo), Workplaces: []string{}, Goals: []DossierGoal{}, Procedures: []ProcedureTotal{}, Courses: []DossierCourse{}, Kursbevis: []DossierDocument{}}
	err = tenants.OwnRecordTx(ctx, db, person, func(ctx context.Context, tx bun.Tx) error {
		var p struct {
			Given, Family string
			HPR           *string
		}
		if err := tx.NewRaw("SELECT given_name AS given, family_name AS family, hpr_number AS hpr FROM people WHERE id = ?", person).Scan(ctx, &p.Given, &p.Family, &p.HPR); err != nil {
			return err
		}
		d.Name = p.Given + " " + p.Family
		if p.HPR != nil {
			d.HPR = *p.HPR
		}
		h, err := chain.Head(ctx, tx, person)
		if h != nil {
			d.Chain = &DossierChain{Code: h.Code(), Links: h.Seq, At: h.At.In(web.Oslo)}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, s := range rec.Sections {
		d.Workplaces = append(d.Workplaces, s.Tenant.Name)
		// Carried approvals (goal_progress.origin_id) are not in s.Goals:
		// each approval is listed once, where it was made.
		for _, g := range s.Goals {
			dg := DossierGoal{Code: g.GoalCode, VersionID: g.VersionID, PriorLearning: g.PriorLearning, ApprovedBy: g.DecidedByName, Where: s.Tenant.Name, ApprovedAt: g.DecidedAt}
			if g.GoalText != nil {
				dg.Text = *g.GoalText
			}
			d.Goals = append(d.Goals, dg)
		}
		docs := map[uuid.UUID]documents.Document{}
		for _, doc := range s.Documents {
			docs[doc.ID] = doc
		}
		attached := map[uuid.UUID]bool{}
		for _, a := range s.Activities {
			if a.Kind != "course" {
				continue
			}
			c := DossierCourse{Title: a.Title, DoneOn: web.Date(a.DoneOn), Status: activities.StatusLabel(a.Status), Where: s.Tenant.Name}
			if a.DocumentID != nil {
				c.Kursbevis = docs[*a.DocumentID].Name
				attached[*a.DocumentID] = true
			}
			d.Courses = append(d.Courses, c)
		}
		for _, doc := range s.Documents {
			if doc.Kind == documents.KindKursbevis || attached[doc.ID] {
				d.Kursbevis = append(d.Kursbevis, DossierDocument{Name: doc.Name, Where: s.Tenant.Name, UploadedAt: doc.UploadedAt})
			}
		}
	}
	d.Procedures = append(d.Procedures, rec.ProcedureTotals()...)
	sort.SliceStable(d.Goals, func(i, j int) bool { return d.Goals[i].Code < d.Goals[j].Code })
	return d, nil
}

// PDF lays the dossier out on A4 pages.
func (d *Dossier) PDF(baseURL string) ([]byte, error) {
	generated := d.GeneratedAt.Format("02.01.2006 kl. 15:04")
	doc := pdfdoc.New("Dokumentasjon av spesialistutdanning – "+d.Name, d.GeneratedAt, func(page, pages string) string {
		return "Dokumentasjon for " + d.Name + " · laget " + generated + " · side " + page + " av " + pages
	})
	doc.Bold(16, "Dokumentasjon av spesialistutdanning")
	doc.Text(9, "Til søknad om spesialistgodkjenning. Hentet fra kportal, alle arbeidssteder.")
	doc.Space(6)
	doc.Row("Navn", d.Name)
	hpr := d.HPR
	if hpr == "" {
		hpr = "ikke registrert"
	}
	doc.Row("HPR-nummer", hpr)
	doc.Row("Laget", generated+" (norsk tid)")
	doc.Row("Arbeidssteder", joinOr(d.Workplaces, "ingen"))
	if d.Chain != nil {
		doc.Row("Kontrollkode", d.Chain.Code)
		doc.Text(9, "Kontrollkoden er toppen av en kjede av kontrollsummer over alle signaturer og godkjenninger ("+strconv.FormatInt(d.Chain.Links, 10)+
			" ledd, siste "+web.Date(d.Chain.At)+"). Hvem som helst kan sjekke den på "+baseURL+"/verifiser/"+d.Chain.Code+".")
	} else {
		doc.Row("Kontrollkode", "ingen signaturer eller godkjenninger ennå")
	}
	doc.Rule()

	doc.Heading(13, "Godkjente læringsmål ("+strconv.Itoa(len(d.Goals))+")")
	if len(d.Goals) == 0 {
		doc.Text(10, "Ingen godkjente læringsmål.")
	}
	for _, g := range d.Goals {
		head := g.Code
		if g.Text != "" {
			head += " " + g.Text
		}
		doc.Ensure(30)
		doc.Bold(10, head)
		when := ""
		if g.ApprovedAt != nil {
			when = web.Date(g.ApprovedAt.In(web.Oslo))
		}
		line := "Godkjent av " + g.ApprovedBy + ", " + g.Where + ", " + when
		if g.PriorLearning {
			line += " (etterregistrering)"
		}
		doc.Text(9, line)
		doc.Space(2)
	}

	doc.Heading(13, "Prosedyrer")
	if len(d.Procedures) == 0 {
		doc.Text(10, "Ingen prosedyrer registrert.")
	} else {
		rows := make([][]string, len(d.Procedures))
		for i, p := range d.Procedures {
			rows[i] = []string{p.Name, strconv.Itoa(p.AssistedSigned), strconv.Itoa(p.PerformedSigned), strconv.Itoa(p.Assisted + p.Performed)}
		}
		doc.Table([]float64{0.55, 0.15, 0.15, 0.15}, []string{"Prosedyre", "Assistert", "Utført", "Registrert"}, rows)
		doc.Text(8, "Assistert og utført: signert av supervisør. Registrert: alle, også de som venter på signatur.")
	}

	doc.Heading(13, "Kurs")
	if len(d.Courses) == 0 {
		doc.Text(10, "Ingen kurs registrert.")
	} else {
		rows := make([][]string, len(d.Courses))
		for i, c := range d.Courses {
			rows[i] = []string{c.Title, c.DoneOn, c.Status, c.Where}
		}
		doc.Table([]float64{0.4, 0.15, 0.2, 0.25}, []string{"Kurs", "Dato", "Status", "Arbeidssted"}, rows)
	}

	doc.Heading(13, "Vedlagte kursbevis")
	if len(d.Kursbevis) == 0 {
		doc.Text(10, "Ingen kursbevis lastet opp.")
	}
	for _, k := range d.Kursbevis {
		doc.Bullet(10, k.Name+" ("+k.Where+", lastet opp "+web.Date(k.UploadedAt.In(web.Oslo))+")")
	}
	return doc.Bytes()
}

func joinOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	out := s[0]
	for _, x := range s[1:] {
		out += ", " + x
	}
	return out
}

func (m *Module) dossier(c echo.Context) (*Dossier, error) {
	ctx := c.Request().Context()
	// The person is the session's, never anything from the request.
	return BuildDossier(ctx, m.db, modules.ViewerFrom(ctx).PersonID, time.Now())
}

func (m *Module) dossierPDF(c echo.Context) error {
	d, err := m.dossier(c)
	if err != nil {
		return err
	}
	b, err := d.PDF(m.baseURL)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="dokumentasjon-`+d.GeneratedAt.Format("2006-01-02")+`.pdf"`)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.Blob(http.StatusOK, "application/pdf", b)
}

func (m *Module) dossierJSON(c echo.Context) error {
	d, err := m.dossier(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="dokumentasjon-`+d.GeneratedAt.Format("2006-01-02")+`.json"`)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, d)
}
