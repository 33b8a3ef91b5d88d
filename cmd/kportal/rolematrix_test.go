package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"kportal/modules"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// roleMatrix says, for every route, who gets past its guard. A route missing
// here fails the test, and so does an entry without a route: adding a route
// means deciding, here, who may call it.
//
//	public     anyone, also without a session
//	signed-in  any signed-in person
//	members    anyone with a role in the tenant in the URL
//	otherwise  the roles named, comma separated
var roleMatrix = map[string]string{
	"GET /":                          "signed-in",
	"GET /api/me":                    "signed-in",
	"GET /assets/*":                  "public",
	"GET /bekreft-epost":             "public",
	"POST /bekreft-epost":            "public",
	"GET /feil":                      "public",
	"GET /glemt-passord":             "public",
	"POST /glemt-passord":            "public",
	"GET /healthz":                   "public",
	"GET /hjelp":                     "public",
	"GET /readyz":                    "public",
	"GET /logg-inn":                  "public",
	"POST /logg-inn":                 "public",
	"GET /registrer":                 "public",
	"POST /registrer":                "public",
	"GET /invitasjon/:token":         "public",
	"GET /invitasjon":                "public",
	"POST /invitasjon":               "signed-in",
	"GET /innstillinger":             "signed-in",
	"POST /innstillinger":            "signed-in",
	"POST /innstillinger/test-epost": "signed-in",
	"POST /logg-ut":                  "signed-in",
	"GET /roller":                    "signed-in",
	"GET /min-utdanning":             "signed-in",
	"GET /t/:tenant/":                "members",

	"GET /varsler/innstillinger":       "signed-in",
	"POST /varsler/innstillinger":      "signed-in",
	"GET /t/:tenant/varsler":           "members",
	"GET /t/:tenant/varsler/nye":       "members",
	"POST /t/:tenant/varsler/lest":     "members",
	"POST /t/:tenant/varsler/:id/lest": "members",

	"GET /virksomheter":                                   "rhf_admin,hdir,platform_admin",
	"POST /virksomheter":                                  "rhf_admin,hdir,platform_admin",
	"GET /virksomheter/:id":                               "rhf_admin,hdir,platform_admin",
	"POST /virksomheter/:id/status":                       "rhf_admin,hdir,platform_admin",
	"POST /virksomheter/:id/invitasjoner/:inv/send-igjen": "rhf_admin,hdir,platform_admin",

	"GET /katalog":                "hdir",
	"POST /katalog":               "hdir",
	"GET /katalog/:id":            "hdir",
	"POST /katalog/:id/vurdering": "hdir",
	"POST /katalog/:id/publiser":  "hdir",

	"GET /t/:tenant/admin/arenaer":                            "tenant_admin",
	"POST /t/:tenant/admin/arenaer":                           "tenant_admin",
	"POST /t/:tenant/admin/arenaer/:id":                       "tenant_admin",
	"POST /t/:tenant/admin/arenaer/:id/arkiver":               "tenant_admin",
	"GET /t/:tenant/admin/planer":                             "tenant_admin",
	"POST /t/:tenant/admin/planer":                            "tenant_admin",
	"POST /t/:tenant/admin/planer/katalogversjon":             "tenant_admin",
	"GET /t/:tenant/admin/planer/:id":                         "tenant_admin",
	"POST /t/:tenant/admin/planer/:id":                        "tenant_admin",
	"POST /t/:tenant/admin/planer/:id/arkiver":                "tenant_admin",
	"POST /t/:tenant/admin/planer/:id/aktiviteter":            "tenant_admin",
	"POST /t/:tenant/admin/planer/:id/aktiviteter/:aid/slett": "tenant_admin",
	"GET /t/:tenant/planer/tildel":                            "leder",
	"POST /t/:tenant/planer/tildel":                           "leder",
	"POST /t/:tenant/planer/tildel/:id/arkiver":               "leder",

	"GET /hdir/registreringer":                      "hdir",
	"GET /hdir/registreringer/:org/:id":             "hdir",
	"POST /hdir/registreringer/:org/:id/beslutning": "hdir",

	"GET /t/:tenant/databehandleravtale":                         "tenant_admin",
	"POST /t/:tenant/databehandleravtale/signer":                 "tenant_admin",
	"GET /t/:tenant/databehandleravtale/kvittering/:id":          "tenant_admin",
	"GET /t/:tenant/utdanningsvirksomhet":                        "tenant_admin",
	"POST /t/:tenant/utdanningsvirksomhet":                       "tenant_admin",
	"POST /t/:tenant/utdanningsvirksomhet/send":                  "tenant_admin",
	"GET /t/:tenant/invitasjoner":                                "lis",
	"POST /t/:tenant/invitasjoner":                               "lis",
	"POST /t/:tenant/invitasjoner/:inv/send-igjen":               "lis",
	"POST /t/:tenant/invitasjoner/:inv/trekk-tilbake":            "lis",
	"GET /t/:tenant/delegering":                                  "leder",
	"POST /t/:tenant/delegering":                                 "leder",
	"POST /t/:tenant/delegering/:id/trekk-tilbake":               "leder",
	"GET /t/:tenant/laeringsmaal":                                "lis",
	"GET /t/:tenant/laeringsmaal/:code":                          "lis",
	"POST /t/:tenant/laeringsmaal/:code/send":                    "lis",
	"POST /t/:tenant/laeringsmaal/:code/trekk-tilbake":           "lis",
	"GET /t/:tenant/etterregistrering":                           "lis",
	"POST /t/:tenant/etterregistrering":                          "lis",
	"POST /t/:tenant/etterregistrering/:id/trekk-tilbake":        "lis",
	"GET /t/:tenant/innspill":                                    "veileder,supervisor",
	"POST /t/:tenant/innspill/:id":                               "veileder,supervisor",
	"GET /t/:tenant/godkjenning":                                 "leder",
	"GET /t/:tenant/godkjenning/:id":                             "leder",
	"POST /t/:tenant/godkjenning/:id":                            "leder",
	"GET /t/:tenant/aktiviteter":                                 "lis",
	"GET /t/:tenant/aktiviteter/ny":                              "lis",
	"GET /t/:tenant/aktiviteter/:id":                             "lis",
	"POST /t/:tenant/aktiviteter":                                "lis",
	"POST /t/:tenant/aktiviteter/:id/trekk-tilbake":              "lis",
	"GET /t/:tenant/prosedyrer":                                  "lis",
	"POST /t/:tenant/prosedyrer":                                 "lis",
	"POST /t/:tenant/prosedyrer/:id/favoritt":                    "lis",
	"GET /t/:tenant/signering":                                   "supervisor",
	"POST /t/:tenant/signering":                                  "supervisor",
	"GET /t/:tenant/admin/logg":                                  "tenant_admin",
	"GET /t/:tenant/admin/personer":                              "tenant_admin",
	"POST /t/:tenant/admin/personer":                             "tenant_admin",
	"GET /t/:tenant/admin/personer/ny":                           "tenant_admin",
	"GET /t/:tenant/admin/personer/:id":                          "tenant_admin",
	"POST /t/:tenant/admin/personer/:id/hpr":                     "tenant_admin",
	"POST /t/:tenant/admin/personer/:id/leder":                   "tenant_admin",
	"POST /t/:tenant/admin/personer/:id/roller":                  "tenant_admin",
	"POST /t/:tenant/admin/personer/:id/spesialiteter":           "tenant_admin",
	"POST /t/:tenant/admin/personer/:id/supervisorer":            "tenant_admin",
	"POST /t/:tenant/admin/personer/:id/supervisorer/:sid/fjern": "tenant_admin",
	"GET /t/:tenant/admin/personer/import":                       "tenant_admin",
	"POST /t/:tenant/admin/personer/import":                      "tenant_admin",
	"GET /t/:tenant/admin/personer/import/mal.csv":               "tenant_admin",

	// Leder and UAO pass the guard to the samtaler to see date and status;
	// the text answers them 404 (TestAdvisoryPrivacyIsolationOverHTTP).
	"GET /t/:tenant/veiledning":                        "lis,veileder,leder,uao",
	"POST /t/:tenant/veiledning":                       "veileder",
	"GET /t/:tenant/veiledning/:id":                    "lis,veileder,leder,uao",
	"POST /t/:tenant/veiledning/:id/tekst":             "lis,veileder",
	"POST /t/:tenant/veiledning/:id/ferdigstill":       "veileder",
	"GET /t/:tenant/admin/veiledning":                  "tenant_admin",
	"POST /t/:tenant/admin/veiledning":                 "tenant_admin",
	"GET /t/:tenant/arbeidsstedsbytte":                 "leder,tenant_admin",
	"POST /t/:tenant/arbeidsstedsbytte":                "leder,tenant_admin",
	"GET /t/:tenant/arbeidsstedsbytte/:id":             "leder,tenant_admin",
	"POST /t/:tenant/arbeidsstedsbytte/:id/avlys":      "leder,tenant_admin",
	"POST /t/:tenant/arbeidsstedsbytte/:id/bekreft":    "leder,tenant_admin",
	"GET /t/:tenant/mitt-arbeidsstedsbytte":            "lis",
	"POST /t/:tenant/aktiviteter/send-igjen":           "lis",
	"POST /t/:tenant/mitt-arbeidsstedsbytte":           "lis",
	"POST /t/:tenant/arbeidsstedsbytte/:id/prov-igjen": "leder,tenant_admin",
	"POST /t/:tenant/admin/arbeidsstedsbytte":          "tenant_admin",
	"GET /t/:tenant/mine-lis":                          "veileder,leder",
	"GET /t/:tenant/utdanningsoversikt":                "uao",
	"GET /t/:tenant/utdanningsoversikt/csv":            "uao",
	"GET /t/:tenant/dokumenter":                        "lis",
	"POST /t/:tenant/dokumenter":                       "lis",
	"POST /t/:tenant/dokumenter/:id/slett":             "lis",
	"GET /t/:tenant/dokumenter/:id":                    "lis,supervisor,veileder,leder",
	"GET /t/:tenant/dokumenter/:id/vis":                "lis,supervisor,veileder,leder",
	"GET /t/:tenant/admin/dokumenter":                  "tenant_admin",
	"POST /t/:tenant/admin/dokumenter":                 "tenant_admin",

	// Arrivals from a CSV file (the yearly LIS1 rotation).
	"GET /t/:tenant/arbeidsstedsbytte/mal.csv":           "leder,tenant_admin",
	"POST /t/:tenant/arbeidsstedsbytte/csv":              "leder,tenant_admin",
	"GET /t/:tenant/arbeidsstedsbytte/csv/:id":           "leder,tenant_admin",
	"GET /t/:tenant/arbeidsstedsbytte/csv/:id/fremdrift": "leder,tenant_admin",

	// API + API keys (issue 15): /api/v1 is "api-key": the session guard lets
	// every request through and the handler's bearer-key check decides
	// (modules/api's TestHdir…/TestOpenAPI… tests walk it with keys).
	"GET /api/v1/openapi.json":                     "public",
	"GET /api/v1/records/:hpr":                     "api-key",
	"GET /api/v1/tenants/:slug/lis":                "api-key",
	"GET /plattform/api-nokler":                    "platform_admin",
	"POST /plattform/api-nokler":                   "platform_admin",
	"POST /plattform/api-nokler/:id/trekk-tilbake": "platform_admin",

	// The LIS's dossier (issue 15) and the public check of its code.
	"GET /min-utdanning/dossier.pdf":  "signed-in",
	"GET /min-utdanning/dossier.json": "signed-in",
	"GET /verifiser":                  "public",
	"GET /verifiser/:code":            "public",

	// Helsedirektoratet's read access to a LIS's record (issue 15, item 1).
	"GET /hdir/lis":         "hdir",
	"GET /hdir/lis/:person": "hdir",

	// The fremdriftsrapport (issue 15): the leder's for their LIS, the UAO's for covered specialties.
	"GET /t/:tenant/mine-lis/rapport":               "leder",
	"GET /t/:tenant/mine-lis/rapport/csv":           "leder",
	"GET /t/:tenant/mine-lis/rapport/pdf":           "leder",
	"GET /t/:tenant/utdanningsoversikt/rapport":     "uao",
	"GET /t/:tenant/utdanningsoversikt/rapport/csv": "uao",
	"GET /t/:tenant/utdanningsoversikt/rapport/pdf": "uao",
}

// The subjects the matrix is walked for: no session, a person with no role,
// one person per tenant role (in the tenant of the URL), one per platform role.
var (
	tenantRoles   = []string{"lis", "leder", "veileder", "supervisor", "uao", "tenant_admin"}
	platformRoles = []string{"rhf_admin", "hdir", "platform_admin"}
)

// matrixWorld is kportal running on the real services with a kommune and one
// signed-in user per role: what the route walks below call routes as.
type matrixWorld struct {
	app      *app
	srv      *httptest.Server
	tn       *tenants.Tenant
	subjects []string          // anonymous, none, each tenant role, each platform role
	tokens   map[string]string // subject → session token ("" for anonymous)
	anon     *http.Client      // keeps the CSRF cookie of the anonymous subject
	csrf     string
}

// newMatrixWorld starts kportal; with probe, every handler is a stand-in that
// answers 204, so only the guard decides.
func newMatrixWorld(t *testing.T, probe bool) *matrixWorld {
	t.Helper()
	cfg := testConfig(t)
	a, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	a.probe = probe
	w := &matrixWorld{app: a, srv: httptest.NewServer(a.server()), tokens: map[string]string{"anonymous": ""}}
	t.Cleanup(w.srv.Close)

	withRefData(t) // rhf_admin is scoped to an RHF of the reference data
	w.tn = &tenants.Tenant{Slug: "matrise-" + uuid.NewString()[:6], Name: "Matrise kommune", Kind: tenants.KindKommune}
	if err := tenants.Create(context.Background(), testenv.Get(t).App, w.tn); err != nil {
		t.Fatal(err)
	}
	w.subjects = []string{"anonymous", "none"}
	email, password := newUser(t, cfg, "Ingen")
	w.tokens["none"] = sessionToken(t, cfg, email, password)
	for _, role := range tenantRoles {
		email, password := newUser(t, cfg, "Rolle")
		if err := tenants.AddMembership(context.Background(), testenv.Get(t).App, w.tn.ID, personFor(t, cfg, email), role); err != nil {
			t.Fatal(err)
		}
		w.tokens[role] = sessionToken(t, cfg, email, password)
		w.subjects = append(w.subjects, role)
	}
	for _, role := range platformRoles {
		email, password := newUser(t, cfg, "Plattform")
		rhf := ""
		if role == tenants.RoleRHFAdmin {
			rhf = "HV"
		}
		grantPlatform(t, cfg, email, role, rhf)
		w.tokens[role] = sessionToken(t, cfg, email, password)
		w.subjects = append(w.subjects, role)
	}
	// Without a session a form needs the CSRF cookie and its token, as in a browser.
	jar, _ := cookiejar.New(nil)
	w.anon = &http.Client{Jar: jar, CheckRedirect: noRedirects.CheckRedirect}
	if resp, err := w.anon.Get(w.srv.URL + "/hjelp"); err == nil {
		resp.Body.Close()
	}
	u, _ := url.Parse(w.srv.URL)
	for _, c := range jar.Cookies(u) {
		if c.Name == "kportal_csrf" {
			w.csrf = c.Value
		}
	}
	return w
}

// routes lists the routes with signing out last: it ends the session the
// other calls need.
func (w *matrixWorld) routes() []modules.RouteInfo {
	routes := w.app.host.Routes()
	sort.SliceStable(routes, func(i, j int) bool { return routes[j].Path == "/logg-ut" && routes[i].Path != "/logg-ut" })
	return routes
}

// path fills a route's parameters: the world's tenant, id for every other one.
func (w *matrixWorld) path(route, id string) string {
	path := route
	for _, seg := range strings.Split(route, "/") {
		switch {
		case seg == ":tenant":
			path = strings.Replace(path, seg, w.tn.Slug, 1)
		case strings.HasPrefix(seg, ":"):
			path = strings.Replace(path, seg, id, 1)
		case seg == "*":
			path = strings.Replace(path, seg, "app.css", 1)
		}
	}
	return path
}

// call sends a request as subject (a form body when form is not nil) and
// returns the status.
func (w *matrixWorld) call(t *testing.T, method, path, subject string, form url.Values) int {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, w.srv.URL+path, body)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	client := noRedirects
	if tok := w.tokens[subject]; tok != "" {
		req.Header.Set("X-Session-Token", tok)
	} else {
		client = w.anon
		req.Header.Set("X-CSRF-Token", w.csrf)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// noRedirects reports a redirect as the answer: a walk wants each route's own.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// allowed reads a roleMatrix rule for a subject.
func allowed(rule, subject string) bool {
	switch rule {
	case "public", "api-key":
		return true
	case "signed-in":
		return subject != "anonymous"
	case "members":
		return slices.Contains(tenantRoles, subject)
	}
	return slices.Contains(strings.Split(rule, ","), subject)
}

func TestRoleMatrix(t *testing.T) {
	w := newMatrixWorld(t, true)
	t.Run("every route has its row and every row its route", func(t *testing.T) {
		seen := map[string]bool{}
		for _, r := range w.app.host.Routes() {
			key := r.Method + " " + r.Path
			seen[key] = true
			if _, ok := roleMatrix[key]; !ok {
				t.Errorf("route %s (%s, module %s) has no row in roleMatrix: decide who may call it", key, r.Access, r.Module)
			}
		}
		for key := range roleMatrix {
			if !seen[key] {
				t.Errorf("roleMatrix has %s, which is no route", key)
			}
		}
	})
	for _, r := range w.routes() {
		rule, ok := roleMatrix[r.Method+" "+r.Path]
		if !ok {
			continue
		}
		path := w.path(r.Path, uuid.NewString())
		for _, subject := range w.subjects {
			status := w.call(t, r.Method, path, subject, nil)
			got := status == http.StatusNoContent
			denied := status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound
			if !got && !denied {
				t.Errorf("%s %s as %s: unexpected status %d", r.Method, path, subject, status)
				continue
			}
			if want := allowed(rule, subject); got != want {
				t.Errorf("%s %s as %s: allowed=%v (status %d), want %v (%s)", r.Method, r.Path, subject, got, status, want, rule)
			}
		}
	}
}

// Bad input never reaches a 500: every route, called by someone allowed to,
// with ids that are not ids or name nothing, and with forms that are empty or
// full of nonsense in every field kportal's forms have.
func TestBadInputNeverAnInternalError(t *testing.T) {
	w := newMatrixWorld(t, false)
	junk := url.Values{}
	for _, f := range []string{"action", "admin_email", "approver", "arena", "auto_assign", "checksum", "code", "comment", "completed_on",
		"confirm", "count", "decision", "delegate", "description", "done_on", "email", "goals", "hpr", "inputs", "kind", "label", "leder",
		"lis", "lis_specialties", "local_arena", "local_kind", "local_name", "local_required", "name", "note", "orgnr", "outcome", "plan",
		"procedure", "q", "reason", "registry_id", "role", "roller", "slug", "specialty", "status", "supervisor", "template", "text",
		"title", "uao_specialties", "until", "veileder", "version", "arena-0-name", "arena-0-lis1", "shown", "goal",
		"date", "time", "place", "topics", "months"} {
		junk[f] = []string{"ikke-gyldig ' \" <x> 99999999999999999999", "-1"}
	}
	refused := 0 // 422s: the walk reaches the handlers' own checks, not only the guard
	for _, r := range w.routes() {
		rule := roleMatrix[r.Method+" "+r.Path]
		var subject string
		for _, s := range w.subjects {
			if allowed(rule, s) && s != "anonymous" {
				subject = s
				break
			}
		}
		if subject == "" || r.Path == "/logg-ut" {
			continue
		}
		for _, id := range []string{"ikke-en-id", uuid.NewString()} {
			path := w.path(r.Path, id)
			forms := []url.Values{nil}
			if r.Method == http.MethodPost {
				forms = []url.Values{{}, junk}
			}
			for _, form := range forms {
				status := w.call(t, r.Method, path+"?q=%27&status=x&arena=ikke-en-id&flow=x", subject, form)
				if status >= 500 && status != http.StatusServiceUnavailable {
					t.Errorf("%s %s as %s with %d form fields: status %d", r.Method, path, subject, len(form), status)
				}
				if status == http.StatusUnprocessableEntity {
					refused++
				}
			}
		}
	}
	if refused < 20 {
		t.Fatalf("only %d answers were 422: the walk does not reach the handlers' checks", refused)
	}
}
