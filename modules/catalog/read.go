package catalog

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed data/*.csv data/*.json
var dataFS embed.FS

// Data returns the catalogue files shipped with kportal (data/SOURCE.md).
func Data() fs.FS {
	sub, _ := fs.Sub(dataFS, "data")
	return sub
}

// Specialty is a medical specialty of the catalogue.
type Specialty struct {
	Code, Name, Structure, Del2Plan string
}

// Goal is one læringsmål. Text is nil when the official text is not loaded:
// the UI then shows the code and says so; a text is never made up.
type Goal struct {
	Code           string     `bun:"code"`
	Text           *string    `bun:"text"`
	Plan           string     `bun:"plan"`
	Part           string     `bun:"part"`
	CompetenceArea string     `bun:"competence_area"`
	ValidFrom      *time.Time `bun:"valid_from"`
	ValidTo        *time.Time `bun:"valid_to"`
	Changed        bool       `bun:"changed"`
	Stricter       *bool      `bun:"stricter"`
}

// TextOrNote is the goal's text, or the note that it is not loaded.
func (g Goal) TextOrNote() string {
	if g.Text == nil || *g.Text == "" {
		return "offisiell tekst ikke lastet inn"
	}
	return *g.Text
}

// Mark is "yes" (stricter), "no" (not stricter) or "" (not marked).
func (g Goal) Mark() string {
	switch {
	case g.Stricter == nil:
		return ""
	case *g.Stricter:
		return "yes"
	}
	return "no"
}

// Procedure is a national procedure with recommended minimum counts.
type Procedure struct {
	Specialty, Number, Name                  string
	Assisted, Performed, AssistedOrPerformed int
	Comment, Source                          string
}

// Recommended is a recommended activity (course, e-learning, …) of a specialty.
type Recommended struct {
	Specialty, Kind, Name, Timing, Source string
}

// Problem is a row that was refused (Bad) or skipped with a note (Warnings).
type Problem struct {
	File   string
	Line   int
	Reason string // Norwegian
}

func (p Problem) String() string { return fmt.Sprintf("%s linje %d: %s", p.File, p.Line, p.Reason) }

// Set is a parsed catalogue: what one import brings.
type Set struct {
	Specialties []Specialty
	Goals       []Goal
	Procedures  []Procedure
	Activities  []Recommended
	Bad         []Problem // nothing is imported while there are any
	Warnings    []Problem // rows skipped, with the reason
}

var (
	codeRe      = regexp.MustCompile(`^[A-ZÆØÅ0-9]+(-[A-ZÆØÅ0-9]+)*$`)
	specialtyRe = regexp.MustCompile(`^[A-ZÆØÅ0-9]{2,6}$`)
)

// procedureSpecialty maps the shipped procedure files to specialty codes;
// a file procedures-<CODE>.csv names its code itself, and a file whose
// specialty code is not known keeps its name (e.g. "generell-kirurgi").
var procedureSpecialty = map[string]string{
	"ortopedisk-kirurgi":             "ORT",
	"gastroenterologisk-kirurgi":     "GAS",
	"allmennmedisin-ferdighetsliste": "ALM",
}

// GoalsCSVHeader is the simplest upload format for goals.
const GoalsCSVHeader = "code,text,plan,part,competence_area,valid_from,valid_to"

// Read parses every catalogue file in fsys it knows: specialties.csv,
// lis1-goals.json, goals-*.json (goals with codes), goals*.csv (GoalsCSVHeader),
// procedures-*.csv and courses.csv. Every bad row is reported in Bad.
func Read(fsys fs.FS) (*Set, error) {
	s := &Set{}
	names, err := fs.Glob(fsys, "*")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	seenGoal := map[string]string{}
	addGoal := func(file string, line int, g Goal) {
		where := fmt.Sprintf("%s linje %d", file, line)
		switch {
		case !codeRe.MatchString(g.Code):
			s.Bad = append(s.Bad, Problem{file, line, fmt.Sprintf("målkoden %q er ikke gyldig (store bokstaver og sifre, adskilt med bindestrek)", g.Code)})
		case g.Plan == "":
			s.Bad = append(s.Bad, Problem{file, line, "plan mangler (KLS, KLP, KLK, FKM eller en spesialitetskode)"})
		case seenGoal[g.Code] != "":
			s.Bad = append(s.Bad, Problem{file, line, fmt.Sprintf("målkoden %s står også i %s", g.Code, seenGoal[g.Code])})
		case g.ValidFrom != nil && g.ValidTo != nil && g.ValidTo.Before(*g.ValidFrom):
			s.Bad = append(s.Bad, Problem{file, line, "gyldig til er før gyldig fra"})
		default:
			seenGoal[g.Code] = where
			s.Goals = append(s.Goals, g)
		}
	}
	known := false
	for _, name := range names {
		switch {
		case name == "specialties.csv":
			known = true
			err = s.readSpecialties(fsys, name)
		case name == "lis1-goals.json":
			known = true
			err = s.readLIS1(fsys, name, addGoal)
		case strings.HasPrefix(name, "goals") && strings.HasSuffix(name, ".json"):
			known = true
			err = s.readGoalsJSON(fsys, name, addGoal)
		case strings.HasPrefix(name, "goals") && strings.HasSuffix(name, ".csv"):
			known = true
			err = s.readGoalsCSV(fsys, name, addGoal)
		case strings.HasPrefix(name, "procedures-") && strings.HasSuffix(name, ".csv"):
			known = true
			err = s.readProcedures(fsys, name)
		case name == "courses.csv":
			known = true
			err = s.readCourses(fsys, name)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	if !known {
		return nil, errors.New("ingen katalogfiler funnet (specialties.csv, goals*.csv, lis1-goals.json, procedures-*.csv, courses.csv)")
	}
	return s, nil
}

// eachRow reads a CSV file with a header; need lists the columns that must be there.
func eachRow(fsys fs.FS, name string, need []string, s *Set, fn func(line int, row map[string]string)) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		s.Bad = append(s.Bad, Problem{name, 1, "filen har ingen overskriftsrad"})
		return nil
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	has := map[string]bool{}
	for _, h := range header {
		has[h] = true
	}
	for _, n := range need {
		if !has[n] {
			s.Bad = append(s.Bad, Problem{name, 1, fmt.Sprintf("kolonnen %q mangler", n)})
			return nil
		}
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			s.Bad = append(s.Bad, Problem{name, line, "raden kan ikke leses som CSV: " + err.Error()})
			return nil
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("raden har %d felt, overskriften %d", len(rec), len(header))})
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = strings.TrimSpace(rec[i])
		}
		fn(line, row)
	}
}

func (s *Set) readSpecialties(fsys fs.FS, name string) error {
	seen := map[string]int{}
	return eachRow(fsys, name, []string{"code", "name"}, s, func(line int, row map[string]string) {
		switch {
		case row["code"] == "":
			s.Warnings = append(s.Warnings, Problem{name, line, fmt.Sprintf("%s har ingen kode – hoppet over", row["name"])})
		case !specialtyRe.MatchString(row["code"]):
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("spesialitetskoden %q er ikke gyldig (2–6 store bokstaver eller sifre)", row["code"])})
		case row["name"] == "":
			s.Bad = append(s.Bad, Problem{name, line, "navn mangler"})
		case seen[row["code"]] != 0:
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("koden %s står også på linje %d", row["code"], seen[row["code"]])})
		default:
			seen[row["code"]] = line
			s.Specialties = append(s.Specialties, Specialty{Code: row["code"], Name: row["name"], Structure: row["structure"], Del2Plan: row["del2_plan"]})
		}
	})
}

func parseDate(v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (s *Set) readGoalsCSV(fsys fs.FS, name string, add func(string, int, Goal)) error {
	return eachRow(fsys, name, []string{"code", "text", "plan"}, s, func(line int, row map[string]string) {
		g := Goal{Code: row["code"], Plan: row["plan"], Part: row["part"], CompetenceArea: row["competence_area"]}
		if t := row["text"]; t != "" {
			g.Text = &t
		}
		var err error
		if g.ValidFrom, err = parseDate(row["valid_from"]); err != nil {
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("gyldig fra %q er ikke en dato (åååå-mm-dd)", row["valid_from"])})
			return
		}
		if g.ValidTo, err = parseDate(row["valid_to"]); err != nil {
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("gyldig til %q er ikke en dato (åååå-mm-dd)", row["valid_to"])})
			return
		}
		add(name, line, g)
	})
}

// jsonLines finds the line of each goal object in a JSON file, for reports.
func jsonLines(b []byte, key string) []int {
	var out []int
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"`+key+`"`) {
			out = append(out, i+1)
		}
	}
	return out
}

func (s *Set) readLIS1(fsys fs.FS, name string, add func(string, int, Goal)) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	var doc struct {
		Plans []struct {
			Plan        string `json:"plan"`
			InForceFrom any    `json:"in_force_from"`
		} `json:"plans"`
		Goals []struct {
			Code *string `json:"code"`
			Plan string  `json:"plan"`
			Text *string `json:"text"`
		} `json:"goals"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		s.Bad = append(s.Bad, Problem{name, 1, "filen er ikke gyldig JSON: " + err.Error()})
		return nil
	}
	from := map[string]*time.Time{}
	for _, p := range doc.Plans {
		if v, ok := p.InForceFrom.(string); ok {
			if d, err := parseDate(v); err == nil {
				from[p.Plan] = d
			}
		}
	}
	lines := jsonLines(b, "code")
	for i, g := range doc.Goals {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		if g.Code == nil {
			s.Warnings = append(s.Warnings, Problem{name, line, "målet har ingen kode – hoppet over"})
			continue
		}
		goal := Goal{Code: *g.Code, Plan: g.Plan, Part: "del1", ValidFrom: from[g.Plan]}
		if g.Text != nil && strings.TrimSpace(*g.Text) != "" {
			t := strings.TrimSpace(*g.Text)
			goal.Text = &t
		}
		add(name, line, goal)
	}
	return nil
}

// readGoalsJSON reads a specialty's goals file (goals-ALM.json): goals with a
// code are imported, goals known only by number are skipped with a note.
func (s *Set) readGoalsJSON(fsys fs.FS, name string, add func(string, int, Goal)) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	var doc struct {
		Meta struct {
			Specialty string `json:"specialty"`
		} `json:"meta"`
		Goals []struct {
			Number any     `json:"number"`
			Code   *string `json:"code"`
			Topic  *string `json:"topic"`
			Text   *string `json:"text"`
		} `json:"goals"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		s.Bad = append(s.Bad, Problem{name, 1, "filen er ikke gyldig JSON: " + err.Error()})
		return nil
	}
	lines := jsonLines(b, "number")
	for i, g := range doc.Goals {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		if g.Code == nil || *g.Code == "" {
			s.Warnings = append(s.Warnings, Problem{name, line, fmt.Sprintf("mål nr. %v har ingen kode – hoppet over", g.Number)})
			continue
		}
		goal := Goal{Code: *g.Code, Plan: doc.Meta.Specialty}
		if g.Topic != nil {
			goal.CompetenceArea = *g.Topic
		}
		if g.Text != nil && strings.TrimSpace(*g.Text) != "" {
			t := strings.TrimSpace(*g.Text)
			goal.Text = &t
		}
		add(name, line, goal)
	}
	return nil
}

// count parses a count column: empty is 0; anything else must be a whole
// number ≥ 0.
func count(v string) (int, bool) {
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

func (s *Set) readProcedures(fsys fs.FS, name string) error {
	slug := strings.TrimSuffix(strings.TrimPrefix(path.Base(name), "procedures-"), ".csv")
	spec := procedureSpecialty[slug]
	if spec == "" {
		spec = slug
		if specialtyRe.MatchString(strings.ToUpper(slug)) {
			spec = strings.ToUpper(slug)
		}
	}
	source := "Helsedirektoratet, anbefalte læringsaktiviteter (" + name + ")"
	seen := map[string]int{}
	add := func(line int, p Procedure, complete string) {
		if p.Name == "" {
			s.Bad = append(s.Bad, Problem{name, line, "prosedyrenavn mangler"})
			return
		}
		if seen[p.Name] != 0 {
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("prosedyren %q står også på linje %d", p.Name, seen[p.Name])})
			return
		}
		seen[p.Name] = line
		if complete == "no" {
			p.Comment = strings.TrimSpace(p.Comment + " (raden er ufullstendig i kilden)")
		}
		p.Source = source
		s.Procedures = append(s.Procedures, p)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	header, _ := csv.NewReader(f).Read()
	f.Close()
	cols := map[string]bool{}
	for _, h := range header {
		cols[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = true
	}
	switch {
	case cols["skill"]: // a skills list without counts (allmennmedisin)
		return eachRow(fsys, name, []string{"section", "skill"}, s, func(line int, row map[string]string) {
			p := Procedure{Specialty: spec, Number: row["section"], Name: row["skill"]}
			if row["count"] != "" {
				p.Comment = "antall: " + row["count"]
			}
			add(line, p, row["row_complete"])
		})
	case cols["model_simulator"]: // basal skills: model/simulator and patient
		return eachRow(fsys, name, []string{"procedure", "model_simulator", "patient"}, s, func(line int, row map[string]string) {
			p := Procedure{Specialty: spec, Number: row["section"], Name: row["procedure"]}
			var c []string
			if v := row["model_simulator"]; v != "" {
				c = append(c, "modell/simulator: "+v)
			}
			if v := row["patient"]; v != "" {
				c = append(c, "pasient: "+v)
			}
			if v := row["count_unspecified"]; v != "" {
				c = append(c, "antall (kolonne uavklart): "+v)
			}
			p.Comment = strings.Join(c, "; ")
			add(line, p, row["row_complete"])
		})
	}
	return eachRow(fsys, name, []string{"procedure", "assisted", "assisted_or_performed", "performed"}, s, func(line int, row map[string]string) {
		p := Procedure{Specialty: spec, Number: row["number"], Name: row["procedure"], Comment: row["comment"]}
		var ok1, ok2, ok3 bool
		p.Assisted, ok1 = count(row["assisted"])
		p.Performed, ok2 = count(row["performed"])
		p.AssistedOrPerformed, ok3 = count(row["assisted_or_performed"])
		if !ok1 || !ok2 || !ok3 {
			s.Bad = append(s.Bad, Problem{name, line, "antall (assistert, utført, assistert eller utført) må være hele tall, 0 eller mer"})
			return
		}
		var c []string
		if p.Comment != "" {
			c = append(c, p.Comment)
		}
		if v := row["count_unspecified"]; v != "" {
			c = append(c, "antall (kolonne uavklart i kilden): "+v)
		}
		if v := row["complications_participation"]; v != "" {
			c = append(c, "deltagelse ved reoperasjon/komplikasjoner: "+v)
		}
		p.Comment = strings.Join(c, "; ")
		add(line, p, row["row_complete"])
	})
}

func (s *Set) readCourses(fsys fs.FS, name string) error {
	seen := map[string]int{}
	return eachRow(fsys, name, []string{"specialty_code", "course"}, s, func(line int, row map[string]string) {
		code, course := row["specialty_code"], row["course"]
		kind := row["kind"]
		if kind == "" {
			kind = "course"
		}
		switch {
		case code == "":
			s.Warnings = append(s.Warnings, Problem{name, line, fmt.Sprintf("%q (%s) har ingen spesialitetskode – hoppet over", course, row["specialty"])})
		case !specialtyRe.MatchString(code):
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("spesialitetskoden %q er ikke gyldig", code)})
		case course == "":
			s.Bad = append(s.Bad, Problem{name, line, "kursnavn mangler"})
		case kind != "course" && kind != "elearning" && kind != "other":
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("ukjent type %q (course, elearning eller other)", kind)})
		case seen[code+"\x00"+kind+"\x00"+course] != 0:
			s.Bad = append(s.Bad, Problem{name, line, fmt.Sprintf("%q står også på linje %d", course, seen[code+"\x00"+kind+"\x00"+course])})
		default:
			seen[code+"\x00"+kind+"\x00"+course] = line
			s.Activities = append(s.Activities, Recommended{Specialty: code, Kind: kind, Name: course, Timing: row["recommended_timing"], Source: row["source"]})
		}
	})
}
