package registrations

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Specialty is one the kommune can train in: ALM, SAM, ARB or the kommune
// part of LIS1.
type Specialty struct {
	Code  string
	Label string // Norwegian
}

// Specialties are the choices, in the order shown.
var Specialties = []Specialty{
	{"ALM", "Allmennmedisin (ALM)"},
	{"SAM", "Samfunnsmedisin (SAM)"},
	{"ARB", "Arbeidsmedisin (ARB)"},
	{"LIS1", "LIS1 – kommunedelen"},
}

func specialtyLabel(code string) string {
	for _, s := range Specialties {
		if s.Code == code {
			return s.Label
		}
	}
	return code
}

// LIS1Goals are the codes of the kommune part of LIS1, KLK-001…KLK-040 (the
// published range, ../shared/data/catalog/lis1-goals.json). The goal texts are
// not available to kportal yet, so only codes are ever shown.
var LIS1Goals = func() []string {
	out := make([]string, 40)
	for i := range out {
		out[i] = fmt.Sprintf("KLK-%03d", i+1)
	}
	return out
}()

var lis1Goal = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range LIS1Goals {
		m[c] = true
	}
	return m
}()

// Arena is a læringsarena and the goals that can be reached there.
type Arena struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	LIS1Goals   []string `json:"lis1_goals,omitempty"` // KLK codes
	// OtherGoals are ALM/SAM/ARB goal codes as typed (the national catalogue
	// arrives later); checked to look like codes when the registration is sent.
	OtherGoals string `json:"other_goals,omitempty"`
}

func (a Arena) empty() bool {
	return a.Name == "" && a.Description == "" && len(a.LIS1Goals) == 0 && a.OtherGoals == ""
}

// Content is what the kommune fills in. A draft may hold any of it.
type Content struct {
	Specialties       []string `bun:"specialties,array"`
	Arenas            []Arena  `bun:"arenas,type:jsonb"`
	Supervision       string   `bun:"supervision"`        // how veiledning and supervisjon are organised
	PartnerAgreements string   `bun:"partner_agreements"` // agreements with other virksomheter, e.g. the HF
	ContactName       string   `bun:"contact_name"`
	ContactEmail      string   `bun:"contact_email"`
	ContactPhone      string   `bun:"contact_phone"`
}

// Limits on what a draft may hold (generous; they keep a form from being abused).
const (
	maxArenas   = 50
	maxShort    = 200
	maxMedium   = 2000
	maxLongText = 10000
)

// normalize trims text, keeps only known specialties and KLK codes (in
// catalogue order) and drops arena rows left completely empty.
func (c *Content) normalize() {
	var specs []string
	for _, s := range Specialties {
		for _, got := range c.Specialties {
			if got == s.Code {
				specs = append(specs, s.Code)
				break
			}
		}
	}
	c.Specialties = specs
	if c.Specialties == nil {
		c.Specialties = []string{}
	}
	arenas := []Arena{}
	for _, a := range c.Arenas {
		a.Name = strings.TrimSpace(a.Name)
		a.Description = strings.TrimSpace(a.Description)
		a.OtherGoals = strings.TrimSpace(a.OtherGoals)
		chosen := map[string]bool{}
		for _, g := range a.LIS1Goals {
			chosen[g] = true
		}
		a.LIS1Goals = nil
		for _, g := range LIS1Goals {
			if chosen[g] {
				a.LIS1Goals = append(a.LIS1Goals, g)
			}
		}
		if !a.empty() {
			arenas = append(arenas, a)
		}
	}
	c.Arenas = arenas
	c.Supervision = strings.TrimSpace(c.Supervision)
	c.PartnerAgreements = strings.TrimSpace(c.PartnerAgreements)
	c.ContactName = strings.TrimSpace(c.ContactName)
	c.ContactEmail = strings.TrimSpace(c.ContactEmail)
	c.ContactPhone = strings.TrimSpace(c.ContactPhone)
}

// Problem is what is wrong with one form field.
type Problem struct {
	Field   string // the form field's name, e.g. "contact_email", "arena-0-name"
	Message string // Norwegian
}

// Problems are the problems of a form, in the order of the form.
type Problems []Problem

func (p *Problems) add(field, format string, args ...any) {
	*p = append(*p, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p Problems) fields() map[string]string {
	if len(p) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, x := range p {
		if _, seen := m[x.Field]; !seen {
			m[x.Field] = x.Message
		}
	}
	return m
}

func tooLong(s string, max int) bool { return utf8.RuneCountInString(s) > max }

// checkLimits is what even a draft must satisfy.
func (c *Content) checkLimits() Problems {
	var p Problems
	if len(c.Arenas) > maxArenas {
		p.add("arenas", "En registrering kan ha høyst %d læringsarenaer.", maxArenas)
	}
	for i, a := range c.Arenas {
		if tooLong(a.Name, maxShort) {
			p.add(arenaField(i, "name"), "Navnet kan ha høyst %d tegn.", maxShort)
		}
		if tooLong(a.Description, maxMedium) {
			p.add(arenaField(i, "description"), "Beskrivelsen kan ha høyst %d tegn.", maxMedium)
		}
		if tooLong(a.OtherGoals, maxMedium) {
			p.add(arenaField(i, "goals"), "Feltet kan ha høyst %d tegn.", maxMedium)
		}
	}
	if tooLong(c.Supervision, maxLongText) {
		p.add("supervision", "Teksten kan ha høyst %d tegn.", maxLongText)
	}
	if tooLong(c.PartnerAgreements, maxLongText) {
		p.add("partner_agreements", "Teksten kan ha høyst %d tegn.", maxLongText)
	}
	for _, f := range []struct{ name, value string }{{"contact_name", c.ContactName}, {"contact_email", c.ContactEmail}, {"contact_phone", c.ContactPhone}} {
		if tooLong(f.value, maxShort) {
			p.add(f.name, "Feltet kan ha høyst %d tegn.", maxShort)
		}
	}
	return p
}

func arenaField(i int, name string) string { return fmt.Sprintf("arena-%d-%s", i, name) }

// goalCode is what a goal code looks like: letters, then digits, with an
// optional separator and sub-number (ALM-012, SAM-3, FKM-05, ARB-12.1).
var goalCode = regexp.MustCompile(`^[A-ZÆØÅ]{2,6}[-.]?[0-9]{1,4}([.-][0-9]{1,3})?$`)

// splitCodes splits typed goal codes on commas, semicolons and white space.
func splitCodes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
	})
}

var phone = regexp.MustCompile(`^\+?[0-9]{8,15}$`)

// checkComplete is what a registration must satisfy to be sent.
func (c *Content) checkComplete() Problems {
	p := c.checkLimits()
	has := map[string]bool{}
	for _, s := range c.Specialties {
		has[s] = true
	}
	if len(c.Specialties) == 0 {
		p.add("specialties", "Velg minst én spesialitet.")
	}
	if len(c.Arenas) == 0 {
		p.add("arenas", "Du må legge inn minst én læringsarena.")
	}
	for i, a := range c.Arenas {
		if a.Name == "" {
			p.add(arenaField(i, "name"), "Læringsarenaen må ha et navn.")
		}
		if len(a.LIS1Goals) > 0 && !has["LIS1"] {
			p.add(arenaField(i, "lis1"), "Du har krysset av for LIS1-læringsmål, men ikke valgt LIS1 – kommunedelen som spesialitet.")
		}
		codes := splitCodes(a.OtherGoals)
		var bad []string
		for _, code := range codes {
			if !goalCode.MatchString(strings.ToUpper(code)) {
				bad = append(bad, "«"+code+"»")
			}
		}
		switch {
		case len(bad) == 1:
			p.add(arenaField(i, "goals"), "%s ser ikke ut som en læringsmålkode. Skriv koden slik den står i læringsmålplanen: bokstaver, bindestrek og tall.", bad[0])
		case len(bad) > 1:
			p.add(arenaField(i, "goals"), "%s ser ikke ut som læringsmålkoder. Skriv kodene slik de står i læringsmålplanen: bokstaver, bindestrek og tall.", strings.Join(bad, ", "))
		case len(codes) > 0 && !has["ALM"] && !has["SAM"] && !has["ARB"]:
			p.add(arenaField(i, "goals"), "Du har skrevet læringsmål for ALM, SAM eller ARB, men ikke valgt noen av disse spesialitetene.")
		}
	}
	if c.Supervision == "" {
		p.add("supervision", "Beskriv hvordan veiledning og supervisjon er organisert.")
	}
	if c.ContactName == "" {
		p.add("contact_name", "Skriv navnet på kontaktpersonen.")
	}
	if !validEmail(c.ContactEmail) {
		if c.ContactEmail == "" {
			p.add("contact_email", "Skriv e-postadressen til kontaktpersonen.")
		} else {
			p.add("contact_email", "Skriv en gyldig e-postadresse, for eksempel navn@kommune.no.")
		}
	}
	if c.ContactPhone != "" && !phone.MatchString(strings.ReplaceAll(c.ContactPhone, " ", "")) {
		p.add("contact_phone", "Skriv et telefonnummer med minst 8 sifre, gjerne med landskode (+47).")
	}
	return p
}

// validEmail accepts a plain address (no display name) with a dot in the domain.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

// codes returns an arena's goal codes: the KLK codes chosen and the others
// typed, upper-cased.
func (a Arena) codes() []string {
	out := append([]string(nil), a.LIS1Goals...)
	for _, c := range splitCodes(a.OtherGoals) {
		out = append(out, strings.ToUpper(c))
	}
	return out
}
