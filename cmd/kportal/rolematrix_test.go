package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

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
	"GET /metrics":                   "public",
	"GET /readyz":                    "public",
	"GET /logg-inn":                  "public",
	"POST /logg-inn":                 "public",
	"GET /registrer":                 "public",
	"POST /registrer":                "public",
	"GET /invitasjon/:token":         "public",
	"POST /invitasjon/:token":        "signed-in",
	"GET /innstillinger":             "signed-in",
	"POST /innstillinger":            "signed-in",
	"POST /innstillinger/test-epost": "signed-in",
	"POST /logg-ut":                  "signed-in",
	"GET /roller":                    "signed-in",
	"GET /t/:tenant/":                "members",

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
}

// The subjects the matrix is walked for: no session, a person with no role,
// one person per tenant role (in the tenant of the URL), one per platform role.
var (
	tenantRoles   = []string{"lis", "leder", "veileder", "supervisor", "uao", "tenant_admin"}
	platformRoles = []string{"rhf_admin", "hdir", "platform_admin"}
)

func TestRoleMatrix(t *testing.T) {
	cfg := testConfig(t)
	a, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	a.probe = true
	srv := httptest.NewServer(a.server())
	defer srv.Close()

	t.Run("every route has its row and every row its route", func(t *testing.T) {
		seen := map[string]bool{}
		for _, r := range a.host.Routes() {
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

	withRefData(t) // rhf_admin is scoped to an RHF of the reference data
	tn := &tenants.Tenant{Slug: "matrise-" + uuid.NewString()[:6], Name: "Matrise kommune", Kind: tenants.KindKommune}
	if err := tenants.Create(context.Background(), testenv.Get(t).App, tn); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"anonymous": ""}
	subjects := []string{"anonymous", "none"}
	email, password := newUser(t, cfg, "Ingen")
	tokens["none"] = sessionToken(t, cfg, email, password)
	for _, role := range tenantRoles {
		email, password := newUser(t, cfg, "Rolle")
		if err := tenants.AddMembership(context.Background(), testenv.Get(t).App, tn.ID, personFor(t, cfg, email), role); err != nil {
			t.Fatal(err)
		}
		tokens[role] = sessionToken(t, cfg, email, password)
		subjects = append(subjects, role)
	}
	for _, role := range platformRoles {
		email, password := newUser(t, cfg, "Plattform")
		rhf := ""
		if role == tenants.RoleRHFAdmin {
			rhf = "HV"
		}
		grantPlatform(t, cfg, email, role, rhf)
		tokens[role] = sessionToken(t, cfg, email, password)
		subjects = append(subjects, role)
	}

	allowed := func(rule, subject string) bool {
		switch rule {
		case "public":
			return true
		case "signed-in":
			return subject != "anonymous"
		case "members":
			for _, r := range tenantRoles {
				if r == subject {
					return true
				}
			}
			return false
		}
		for _, r := range strings.Split(rule, ",") {
			if r == subject {
				return true
			}
		}
		return false
	}
	// Without a session a form needs the CSRF cookie and its token, as in a browser.
	jar, _ := cookiejar.New(nil)
	anon := &http.Client{Jar: jar}
	if resp, err := anon.Get(srv.URL + "/hjelp"); err == nil {
		resp.Body.Close()
	}
	u, _ := url.Parse(srv.URL)
	csrf := ""
	for _, c := range jar.Cookies(u) {
		if c.Name == "kportal_csrf" {
			csrf = c.Value
		}
	}
	routes := a.host.Routes()
	// Signing out ends the session the other rows need: do it last.
	sort.SliceStable(routes, func(i, j int) bool { return routes[j].Path == "/logg-ut" && routes[i].Path != "/logg-ut" })
	for _, r := range routes {
		rule, ok := roleMatrix[r.Method+" "+r.Path]
		if !ok {
			continue
		}
		path := r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			switch {
			case seg == ":tenant":
				path = strings.Replace(path, seg, tn.Slug, 1)
			case strings.HasPrefix(seg, ":"):
				path = strings.Replace(path, seg, uuid.NewString(), 1)
			case seg == "*":
				path = strings.Replace(path, seg, "app.css", 1)
			}
		}
		for _, subject := range subjects {
			req, _ := http.NewRequest(r.Method, srv.URL+path, nil)
			req.Header.Set("Accept", "application/json")
			client := http.DefaultClient
			if tok := tokens[subject]; tok != "" {
				req.Header.Set("X-Session-Token", tok)
			} else {
				client = anon
				req.Header.Set("X-CSRF-Token", csrf)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.StatusCode == http.StatusNoContent
			denied := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound
			if !got && !denied {
				t.Errorf("%s %s as %s: unexpected status %d", r.Method, path, subject, resp.StatusCode)
				continue
			}
			if want := allowed(rule, subject); got != want {
				t.Errorf("%s %s as %s: allowed=%v (status %d), want %v (%s)", r.Method, r.Path, subject, got, resp.StatusCode, want, rule)
			}
		}
	}
}
