package progress

import (
	"strings"
	"testing"
	"time"

	"kportal/modules/advisory"
	"kportal/modules/overview"
)

func names(rows []Row) string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}

func TestViewFiltersAndSorts(t *testing.T) {
	day := func(d int) *time.Time { t := time.Date(2026, 1, d, 10, 0, 0, 0, time.UTC); return &t }
	rows := []Row{
		{Name: "Berit", Email: "b@x.no", Specialty: "ORT", Progress: overview.Progress{GoalsApproved: 1, GoalsTotal: 4, ProceduresOK: 2, ProceduresTotal: 2},
			Samtale: advisory.Summary{LastAt: day(5), Overdue: true}},
		{Name: "anders", Email: "a@x.no", Specialty: "GEN", Progress: overview.Progress{GoalsApproved: 3, GoalsTotal: 4},
			Samtale: advisory.Summary{LastAt: day(9)}},
		{Name: "Cecilie", Email: "c@sykehus.no", Specialty: "ORT", Samtale: advisory.Summary{Overdue: true}},
	}
	for _, c := range []struct {
		v    view
		want string
	}{
		{view{Sort: "navn", Dir: "asc"}, "anders,Berit,Cecilie"},
		{view{Sort: "navn", Dir: "desc"}, "Cecilie,Berit,anders"},
		{view{Sort: "maal", Dir: "asc"}, "Cecilie,Berit,anders"}, // no goals sorts before none approved
		{view{Sort: "maal", Dir: "desc"}, "anders,Berit,Cecilie"},
		{view{Sort: "prosedyrer", Dir: "desc"}, "Berit,anders,Cecilie"}, // equal (none) by name
		{view{Sort: "samtale", Dir: "desc"}, "anders,Berit,Cecilie"},
		{view{Sort: "forsinket", Dir: "desc"}, "Berit,Cecilie,anders"},
		{view{Sort: "navn", Dir: "asc", Overdue: true}, "Berit,Cecilie"},
		{view{Sort: "navn", Dir: "asc", Specialty: "GEN"}, "anders"},
		{view{Sort: "navn", Dir: "asc", Q: "SYKEHUS"}, "Cecilie"},
	} {
		if got := names(c.v.apply(rows)); got != c.want {
			t.Errorf("%+v: %s, want %s", c.v, got, c.want)
		}
	}
	if names(rows) != "Berit,anders,Cecilie" {
		t.Fatal("apply reordered its input")
	}
}

func TestSortLinkTogglesAndKeepsTheFilter(t *testing.T) {
	v := view{Sort: "maal", Dir: "asc", Q: "kari", Overdue: true}
	if got := v.SortLink("/t/x/utdanningsoversikt", "maal"); got != "/t/x/utdanningsoversikt?forsinket=1&q=kari&retning=desc&sorter=maal" {
		t.Fatal(got)
	}
	if got := v.SortLink("/p", "navn"); !strings.Contains(got, "retning=asc&sorter=navn") {
		t.Fatal(got)
	}
}

func TestCellKeepsFormulasOut(t *testing.T) {
	for in, want := range map[string]string{"=SUM(A1)": "'=SUM(A1)", "+47 999": "'+47 999", "Kari": "Kari", "": ""} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
