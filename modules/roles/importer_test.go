package roles

import (
	"strings"
	"testing"
)

// check runs a file through both steps, as the import does.
func check(data string, dir Directory) ([]ImportRow, []Problem) {
	rows, problems := ParseCSV([]byte(data))
	if problems != nil {
		return nil, problems
	}
	return CheckRows(rows, dir)
}

func emptyDir() Directory { return Directory{Roles: map[string][]string{}, HPR: map[string]string{}} }

const header = "epost;fornavn;etternavn;hpr;roller;leder_epost;veileder_epost\n"

func TestParseSeparatorsAndBOM(t *testing.T) {
	cases := []struct{ name, data string }{
		{"semicolon", header + "per@x.no;Per;Johansen;;leder;;\nkari@x.no;Kari;Nordmann;1234567;lis;per@x.no;\n"},
		{"comma", strings.ReplaceAll(header, ";", ",") + "per@x.no,Per,Johansen,,leder,,\nkari@x.no,Kari,Nordmann,1234567,lis,per@x.no,\n"},
		{"BOM and CRLF", "\ufeff" + strings.ReplaceAll(header+"per@x.no;Per;Johansen;;leder;;\nkari@x.no;Kari;Nordmann;1234567;lis;per@x.no;\n", "\n", "\r\n")},
		{"quoted roles in a comma file", "Epost,Fornavn,Etternavn,HPR-nummer,Roller,Leder e-post\nper@x.no,Per,Johansen,,\"leder, supervisør\",\nkari@x.no,Kari,Nordmann,1234567,LIS,PER@x.no\n"},
		{"blank Excel rows and columns in another order", "roller;epost;etternavn;fornavn;leder_epost\nleder;per@x.no;Johansen;Per;\n;;;;\nlis;kari@x.no;Nordmann;Kari;per@x.no\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, problems := check(c.data, emptyDir())
			if problems != nil {
				t.Fatalf("problems: %v", problems)
			}
			if len(rows) != 2 || rows[0].Email != "per@x.no" || rows[0].GivenName != "Per" || rows[1].Roles[0] != "lis" || rows[1].LederEmail != "per@x.no" {
				t.Fatalf("rows: %+v", rows)
			}
			if rows[0].Line != 2 || (rows[1].Line != 3 && rows[1].Line != 4) {
				t.Fatalf("line numbers: %d, %d", rows[0].Line, rows[1].Line)
			}
		})
	}
	rows, _ := check(TemplateCSV, emptyDir())
	if len(rows) != 3 || rows[1].Roles[1] != "supervisor" || rows[2].VeilederEmail != "ingrid.veileder@eksempel.no" {
		t.Fatalf("the template does not import cleanly: %+v", rows)
	}
}

// Each kind of bad line is reported with its line number and a Norwegian reason.
func TestCheckRowsReportsEveryBadLine(t *testing.T) {
	dir := Directory{
		Roles: map[string][]string{"leder@x.no": {"leder"}, "lis@x.no": {"lis"}},
		HPR:   map[string]string{"7777777": "someone@x.no", "8888888": "same@x.no"},
	}
	cases := []struct {
		name  string
		lines string // after the header; the first line is line 2
		line  int
		field string
		want  string
	}{
		{"bad e-mail", "ikke-en-epost;Per;Hansen;;lis;;", 2, "email", "«ikke-en-epost» er ikke en gyldig e-postadresse."},
		{"missing e-mail", ";Per;Hansen;;lis;;", 2, "email", "Mangler e-postadresse."},
		{"missing given name", "a@x.no;;Hansen;;lis;;", 2, "given_name", "Mangler fornavn."},
		{"unknown role", "a@x.no;Per;Hansen;;lis sjef;;", 2, "roles", "Ukjent rolle «sjef»."},
		{"no role", "a@x.no;Per;Hansen;;;;", 2, "roles", "Mangler rolle"},
		{"bad HPR", "a@x.no;Per;Hansen;12ab;lis;;", 2, "hpr", "HPR-nummeret «12ab» må ha 6 til 9 sifre."},
		{"short HPR", "a@x.no;Per;Hansen;12345;lis;;", 2, "hpr", "må ha 6 til 9 sifre"},
		{"duplicate e-mail", "a@x.no;Per;Hansen;;lis;;\nb@x.no;Ola;Hansen;;lis;;\nA@x.no;Pål;Hansen;;leder;;", 4, "email", "E-postadressen a@x.no står også på linje 2."},
		{"duplicate HPR in the file", "a@x.no;Per;Hansen;1234567;lis;;\nb@x.no;Ola;Hansen;1234567;lis;;", 3, "hpr", "HPR-nummeret 1234567 står også på linje 2."},
		{"HPR of another person", "a@x.no;Per;Hansen;;lis;;\nb@x.no;Ola;Hansen;7777777;lis;;", 3, "hpr", "HPR-nummeret 7777777 er allerede registrert på en annen person i kportal."},
		{"leder nowhere", "a@x.no;Per;Hansen;;lis;ukjent@x.no;", 2, "leder", "ukjent@x.no er verken leder i virksomheten eller med rollen leder i filen."},
		{"leder in the file without the role", "a@x.no;Per;Hansen;;lis;b@x.no;\nb@x.no;Ola;Hansen;;supervisor;;", 2, "leder", "b@x.no er verken leder"},
		{"leder of the tenant is no veileder", "a@x.no;Per;Hansen;;lis;;leder@x.no", 2, "veileder", "leder@x.no er verken veileder i virksomheten eller med rollen veileder i filen."},
		{"a tenant LIS is no leder", "a@x.no;Per;Hansen;;lis;lis@x.no;", 2, "leder", "lis@x.no er verken leder"},
		{"leder of a non-LIS", "a@x.no;Per;Hansen;;supervisor;leder@x.no;", 2, "leder", "Bare en LIS kan ha leder"},
		{"own leder", "a@x.no;Per;Hansen;;lis leder;a@x.no;", 2, "leder", "En LIS kan ikke være sin egen leder."},
		{"bad leder e-mail", "a@x.no;Per;Hansen;;lis;per(at)x.no;", 2, "leder", "«per(at)x.no» (leder) er ikke en gyldig e-postadresse."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, problems := check(header+c.lines+"\n", dir)
			if len(problems) != 1 {
				t.Fatalf("want one problem, got %v", problems)
			}
			p := problems[0]
			if p.Line != c.line || p.Field != c.field || !strings.Contains(p.Message, c.want) {
				t.Fatalf("got line %d field %s %q; want line %d field %s containing %q", p.Line, p.Field, p.Message, c.line, c.field, c.want)
			}
			if !strings.HasPrefix(p.String(), "Linje ") {
				t.Fatalf("String() = %q", p.String())
			}
		})
	}

	t.Run("accepted: leder in the tenant, leder and veileder in the file, own HPR again", func(t *testing.T) {
		rows, problems := check(header+
			"same@x.no;Sam;Same;8888888;lis;leder@x.no;v@x.no\n"+
			"v@x.no;Vera;Veileder;;veileder;;\n"+
			"l2@x.no;Lars;Leder;;leder;;\n"+
			"lis2@x.no;Liv;Lis;;lis;l2@x.no;v@x.no\n", dir)
		if problems != nil || len(rows) != 4 {
			t.Fatalf("problems: %v", problems)
		}
	})

	t.Run("every bad line is listed, in order", func(t *testing.T) {
		_, problems := check(header+"ok@x.no;A;B;;lis;;\nbad;A;B;;lis;;\nok2@x.no;A;B;12;lis;;\nok3@x.no;A;B;;boss;;\n", dir)
		if len(problems) != 3 || problems[0].Line != 3 || problems[1].Line != 4 || problems[2].Line != 5 {
			t.Fatalf("problems: %v", problems)
		}
	})
}

func TestParseRejectsBadFiles(t *testing.T) {
	many := strings.Repeat("a@x.no;A;B;;lis;;\n", MaxImportLines+1)
	cases := []struct {
		name, data string
		line       int
		want       string
	}{
		{"not UTF-8", header + "a@x.no;P\xe5l;Hansen;;lis;;\n", 0, "ikke lagret som UTF-8"},
		{"empty", "", 0, "Filen er tom."},
		{"only a header", header, 0, "ingen personer"},
		{"missing column", "epost;fornavn;etternavn\na@x.no;A;B\n", 1, "Overskriftsraden mangler kolonnen «roller»."},
		{"unknown column", "epost;fornavn;etternavn;roller;telefon\na@x.no;A;B;lis;123\n", 1, "Ukjent kolonne «telefon»"},
		{"too many lines", header + many, 0, "mer enn 5000 personer"},
		{"too big", header + strings.Repeat("x", MaxImportBytes), 0, "for stor"},
		{"unclosed quote", header + "a@x.no;A;B;;lis;;\n\"b@x.no;A;B;;lis;;\n", 3, "anførselstegn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, problems := ParseCSV([]byte(c.data))
			if rows != nil || len(problems) == 0 {
				t.Fatalf("rows %d, problems %v", len(rows), problems)
			}
			if problems[0].Line != c.line || !strings.Contains(problems[0].Message, c.want) {
				t.Fatalf("got %d %q, want %d containing %q", problems[0].Line, problems[0].Message, c.line, c.want)
			}
		})
	}
}

func TestSpecialtiesAndHPR(t *testing.T) {
	if got, msg := ParseSpecialties("ane, ped ANE øye"); msg != "" || strings.Join(got, ",") != "ANE,PED,ØYE" {
		t.Fatalf("%v %q", got, msg)
	}
	if _, msg := ParseSpecialties("ANE kirurgi"); !strings.Contains(msg, "«KIRURGI» er ikke en spesialitetskode") {
		t.Fatalf("%q", msg)
	}
	if h, msg := CheckHPR(" 123 4567 "); h != "1234567" || msg != "" {
		t.Fatalf("%q %q", h, msg)
	}
	if _, msg := CheckHPR("1234567890"); msg == "" {
		t.Fatal("10 digits accepted")
	}
}
