package roles

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"kportal/modules/csvfile"
	"kportal/modules/web"
	"kportal/tenants"
)

// Limits of one import file.
const (
	MaxImportBytes = 2 << 20 // 2 MB
	MaxImportLines = 5000    // people, not counting the header row
)

// The import file format (shown on the import page, and as the downloadable
// template): UTF-8 (a byte order mark is fine), a header row, then one person
// per line, separated by semicolons (what Norwegian Excel writes) or commas —
// whichever the header row uses more of. Columns, in any order, named
// case-insensitively (spaces, "-" and "_" ignored):
//
//	epost          required  the person's e-mail (their sign-in)
//	fornavn        required  used when kportal creates the person's user
//	etternavn      required
//	roller         required  one or more of lis, leder, veileder, supervisor
//	                         (supervisør), uao, tenant_admin (administrator),
//	                         separated by spaces, commas, "|" or "/"
//	hpr            optional  HPR number, 6–9 digits
//	leder_epost    optional  for a LIS: their leder
//	veileder_epost optional  for a LIS: their veileder
//
// A leder or veileder named on a line must be on another line of the same
// file with that role, or already hold that role in the tenant.
const TemplateCSV = "\ufeffepost;fornavn;etternavn;hpr;roller;leder_epost;veileder_epost\r\n" +
	"per.leder@eksempel.no;Per;Johansen;;leder;;\r\n" +
	"ingrid.veileder@eksempel.no;Ingrid;Berg;1234567;veileder,supervisor;;\r\n" +
	"kari.lis@eksempel.no;Kari;Nordmann;7654321;lis;per.leder@eksempel.no;ingrid.veileder@eksempel.no\r\n"

// ImportRow is one person to add to a tenant: a line of an import file or the
// add-person form. CheckRows normalises it.
type ImportRow struct {
	Line          int // in the file (the header is line 1); 0 for the form
	Email         string
	GivenName     string
	FamilyName    string
	HPR           string
	Roles         []string
	LederEmail    string
	VeilederEmail string
	// Specialties (codes separated by spaces or commas) the LIS trains in and
	// the UAO follows; the add form has them, a file does not. Empty leaves
	// the person's specialties as they are.
	LISSpecialties string
	UAOSpecialties string

	lisCodes, uaoCodes []string // parsed by CheckRows
}

// Problem is one thing wrong with an import: a line (Line > 0), or the file as
// a whole (Line 0). Field names the form field it concerns.
type Problem struct {
	Line    int
	Field   string
	Message string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.Message
	}
	return fmt.Sprintf("Linje %d: %s", p.Line, p.Message)
}

// columns maps normalised header names to the column they mean.
var columns = map[string]string{
	"epost": "email", "epostadresse": "email", "email": "email", "mail": "email",
	"fornavn": "given_name", "givenname": "given_name",
	"etternavn": "family_name", "familyname": "family_name",
	"hpr": "hpr", "hprnummer": "hpr", "hprnr": "hpr",
	"roller": "roles", "rolle": "roles", "roles": "roles", "role": "roles",
	"lederepost": "leder", "leder": "leder", "ledersepost": "leder", "lederemail": "leder",
	"veilederepost": "veileder", "veileder": "veileder", "veiledersepost": "veileder", "veilederemail": "veileder",
}

var requiredColumns = []struct{ key, name string }{
	{"email", "epost"}, {"given_name", "fornavn"}, {"family_name", "etternavn"}, {"roles", "roller"},
}

// ParseCSV reads an import file into rows. The problems it finds are about
// the file itself (size, encoding, header, CSV syntax); CheckRows checks what
// the lines say. Any problem means nothing may be imported.
func ParseCSV(data []byte) ([]ImportRow, []Problem) {
	fail := func(format string, args ...any) ([]ImportRow, []Problem) {
		return nil, []Problem{{Message: fmt.Sprintf(format, args...)}}
	}
	if len(data) > MaxImportBytes {
		return fail("Filen er for stor: høyst 2 MB. Del den opp i flere filer.")
	}
	r, problem := csvfile.Open(data)
	if problem != "" {
		return fail("%s", problem)
	}

	head, err := r.Read()
	if err != nil {
		return fail("Fant ingen overskriftsrad: %s", csvfile.Problem(err))
	}
	col := map[string]int{}
	var problems []Problem
	for i, h := range head {
		name := csvfile.Column(h)
		if name == "" {
			continue
		}
		key, ok := columns[name]
		if !ok {
			problems = append(problems, Problem{Line: 1, Message: fmt.Sprintf("Ukjent kolonne «%s» i overskriftsraden. Kolonnene er epost, fornavn, etternavn, hpr, roller, leder_epost og veileder_epost.", strings.TrimSpace(h))})
			continue
		}
		if _, dup := col[key]; dup {
			problems = append(problems, Problem{Line: 1, Message: fmt.Sprintf("Kolonnen «%s» står to ganger i overskriftsraden.", strings.TrimSpace(h))})
			continue
		}
		col[key] = i
	}
	for _, rc := range requiredColumns {
		if _, ok := col[rc.key]; !ok {
			problems = append(problems, Problem{Line: 1, Message: fmt.Sprintf("Overskriftsraden mangler kolonnen «%s».", rc.name)})
		}
	}
	if problems != nil {
		return nil, problems
	}
	get := func(rec []string, key string) string {
		if i, ok := col[key]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []ImportRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, []Problem{{Line: pe.StartLine, Message: "Linjen kan ikke leses: " + csvfile.Problem(err)}}
			}
			return fail("Filen kan ikke leses: %v", err)
		}
		if csvfile.Blank(rec) { // Excel writes ";;;;;" for empty rows
			continue
		}
		if len(rows) == MaxImportLines {
			return fail("Filen har mer enn %d personer. Del den opp i flere filer.", MaxImportLines)
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, ImportRow{
			Line: line, Email: get(rec, "email"), GivenName: get(rec, "given_name"), FamilyName: get(rec, "family_name"),
			HPR: get(rec, "hpr"), Roles: splitList(get(rec, "roles")),
			LederEmail: get(rec, "leder"), VeilederEmail: get(rec, "veileder"),
		})
	}
	if len(rows) == 0 {
		return fail("Filen har ingen personer under overskriftsraden.")
	}
	return rows, nil
}

// splitList splits a cell of roles or specialty codes.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == '|' || r == '/' || r == '+' || r == ' ' || r == '\t'
	})
}

// roleAliases are the names a file or form may use for each role.
var roleAliases = map[string]string{
	"lis": "lis", "leder": "leder", "veileder": "veileder",
	"supervisor": "supervisor", "supervisør": "supervisor",
	"uao": "uao", "utdanningsansvarlig": "uao", "utdanningsansvarligoverlege": "uao",
	"tenant_admin": "tenant_admin", "tenantadmin": "tenant_admin", "administrator": "tenant_admin", "admin": "tenant_admin",
}

// canonicalRole returns the role a name means, or "".
func canonicalRole(s string) string {
	return roleAliases[strings.ToLower(strings.TrimSpace(s))]
}

var (
	hprRe       = regexp.MustCompile(`^[0-9]{6,9}$`)
	specialtyRe = regexp.MustCompile(`^[A-ZÆØÅ0-9]{2,6}$`)
)

// CheckHPR normalises an HPR number (spaces removed) or says what is wrong.
func CheckHPR(s string) (string, string) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if s != "" && !hprRe.MatchString(s) {
		return "", fmt.Sprintf("HPR-nummeret «%s» må ha 6 til 9 sifre.", s)
	}
	return s, ""
}

// ParseSpecialties reads specialty codes (ANE, PED, ...) separated by spaces
// or commas, upper-cased and without duplicates.
func ParseSpecialties(s string) ([]string, string) {
	var out []string
	for _, c := range splitList(s) {
		c = strings.ToUpper(c)
		if !specialtyRe.MatchString(c) {
			return nil, fmt.Sprintf("«%s» er ikke en spesialitetskode. Bruk koder som ANE, PED eller ALM, skilt med mellomrom eller komma.", c)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, ""
}

// Directory is what the tenant and kportal know already about the people an
// import names.
type Directory struct {
	// Roles: lower-case e-mail → the roles the person holds in the tenant
	// (present only for people of the tenant).
	Roles map[string][]string
	// HPR: HPR number → lower-case e-mail of the person who has it.
	HPR map[string]string
}

// CheckRows checks the rows of an import against each other and against dir,
// and returns them normalised (e-mail lower case, roles by their code). Every
// problem is reported, each with its line; any problem means nothing may be
// imported.
func CheckRows(rows []ImportRow, dir Directory) ([]ImportRow, []Problem) {
	var problems []Problem
	add := func(r ImportRow, field, format string, args ...any) {
		problems = append(problems, Problem{Line: r.Line, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	out := make([]ImportRow, len(rows))
	byEmail := map[string]int{} // e-mail → index of its first row
	byHPR := map[string]int{}
	for i, r := range rows {
		if r.Email == "" {
			add(r, "email", "Mangler e-postadresse.")
		} else if email, err := tenants.CheckEmail(r.Email); err != nil {
			add(r, "email", "«%s» er ikke en gyldig e-postadresse.", strings.TrimSpace(r.Email))
		} else {
			r.Email = email
			if j, dup := byEmail[email]; dup {
				add(r, "email", "E-postadressen %s står også på linje %d.", email, rows[j].Line)
			} else {
				byEmail[email] = i
			}
		}
		r.GivenName, r.FamilyName = strings.TrimSpace(r.GivenName), strings.TrimSpace(r.FamilyName)
		for _, n := range []struct{ field, label, value string }{{"given_name", "fornavn", r.GivenName}, {"family_name", "etternavn", r.FamilyName}} {
			switch {
			case n.value == "":
				add(r, n.field, "Mangler %s.", n.label)
			case utf8.RuneCountInString(n.value) > 100:
				add(r, n.field, "For langt %s (høyst 100 tegn).", n.label)
			}
		}
		hpr, msg := CheckHPR(r.HPR)
		if msg != "" {
			add(r, "hpr", "%s", msg)
		} else if hpr != "" {
			r.HPR = hpr
			if j, dup := byHPR[hpr]; dup {
				add(r, "hpr", "HPR-nummeret %s står også på linje %d.", hpr, rows[j].Line)
			} else {
				byHPR[hpr] = i
				if owner, taken := dir.HPR[hpr]; taken && owner != r.Email {
					add(r, "hpr", "HPR-nummeret %s er allerede registrert på en annen person i kportal.", hpr)
				}
			}
		}
		var roles []string
		for _, name := range r.Roles {
			role := canonicalRole(name)
			if role == "" {
				add(r, "roles", "Ukjent rolle «%s». Bruk lis, leder, veileder, supervisor, uao eller tenant_admin.", name)
				continue
			}
			if !slices.Contains(roles, role) {
				roles = append(roles, role)
			}
		}
		if len(r.Roles) == 0 {
			add(r, "roles", "Mangler rolle: oppgi minst én av lis, leder, veileder, supervisor, uao og tenant_admin.")
		}
		sort.Slice(roles, func(a, b int) bool { return roleOrder(roles[a]) < roleOrder(roles[b]) })
		r.Roles = roles
		var m string
		if r.lisCodes, m = ParseSpecialties(r.LISSpecialties); m != "" {
			add(r, "lis_specialties", "%s", m)
		} else if len(r.lisCodes) > 0 && !slices.Contains(roles, "lis") {
			add(r, "lis_specialties", "Spesialiteter som LIS krever rollen LIS.")
		}
		if r.uaoCodes, m = ParseSpecialties(r.UAOSpecialties); m != "" {
			add(r, "uao_specialties", "%s", m)
		} else if len(r.uaoCodes) > 0 && !slices.Contains(roles, "uao") {
			add(r, "uao_specialties", "Spesialiteter som UAO følger krever rollen utdanningsansvarlig overlege.")
		}
		out[i] = r
	}
	// Relations, once every row's e-mail and roles are known.
	for i := range out {
		r := &out[i]
		for _, rel := range []struct {
			field, kind string
			email       *string
		}{{"leder", tenants.RelLeder, &r.LederEmail}, {"veileder", tenants.RelVeileder, &r.VeilederEmail}} {
			raw := strings.TrimSpace(*rel.email)
			if raw == "" {
				continue
			}
			label := strings.ToLower(web.RoleName(rel.kind))
			email, err := tenants.CheckEmail(raw)
			if err != nil {
				add(*r, rel.field, "«%s» (%s) er ikke en gyldig e-postadresse.", raw, label)
				continue
			}
			*rel.email = email
			if len(r.Roles) > 0 && !slices.Contains(r.Roles, "lis") {
				add(*r, rel.field, "Bare en LIS kan ha %s: gi personen rollen lis, eller la feltet stå tomt.", label)
				continue
			}
			if email == r.Email {
				add(*r, rel.field, "En LIS kan ikke være sin egen %s.", label)
				continue
			}
			if j, inFile := byEmail[email]; inFile && slices.Contains(out[j].Roles, rel.kind) {
				continue
			}
			if slices.Contains(dir.Roles[email], rel.kind) {
				continue
			}
			add(*r, rel.field, "%s er verken %s i virksomheten eller med rollen %s i filen.", email, label, rel.kind)
		}
	}
	sort.SliceStable(problems, func(a, b int) bool { return problems[a].Line < problems[b].Line })
	return out, problems
}

// roleOrder is a role's place in tenants.TenantRoles (the order pages show).
func roleOrder(role string) int {
	if i := slices.Index(tenants.TenantRoles, role); i >= 0 {
		return i
	}
	return len(tenants.TenantRoles)
}

// emailsAndHPRs lists what the directory must be loaded for.
func emailsAndHPRs(rows []ImportRow) (emails, hprs []string) {
	seen := map[string]bool{}
	addEmail := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if s != "" && !seen[s] {
			seen[s] = true
			emails = append(emails, s)
		}
	}
	for _, r := range rows {
		addEmail(r.Email)
		addEmail(r.LederEmail)
		addEmail(r.VeilederEmail)
		if h, msg := CheckHPR(r.HPR); msg == "" && h != "" {
			hprs = append(hprs, h)
		}
	}
	return emails, hprs
}
