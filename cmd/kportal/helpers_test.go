package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"kportal/modules/identity"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// Helpers the integration tests share: people, tenants, roles, forms, mail.

// personFor returns the person row of a test user (creating it as a first
// request would).
func personFor(t *testing.T, cfg *config, email string) uuid.UUID {
	t.Helper()
	k := identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin)
	id, err := k.EnsureIdentity(context.Background(), email, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := identity.EnsurePerson(context.Background(), testenv.Get(t).App, uuid.MustParse(id.Id), identity.TraitsOf(id))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// grantPlatform gives a test user a platform role.
func grantPlatform(t *testing.T, cfg *config, email, role, rhf string) {
	t.Helper()
	if err := tenants.GrantPlatformRole(context.Background(), testenv.Get(t).App, personFor(t, cfg, email), role, rhf); err != nil {
		t.Fatal(err)
	}
}

// withRefData imports the reference data into the package's database.
func withRefData(t *testing.T) {
	t.Helper()
	reg, err := tenants.ReadRegistry(tenants.RefData())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.ImportRegistry(context.Background(), testenv.Get(t).Owner, reg); err != nil {
		t.Fatal(err)
	}
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrfFrom returns the CSRF token of a page's forms.
func csrfFrom(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}

var invitationLinkRe = regexp.MustCompile(`/invitasjon/([A-Za-z0-9_-]{20,})`)

// invitationToken waits for the n-th invitation e-mail to address and returns
// the token of its link.
func invitationToken(t *testing.T, address string, n int) string {
	t.Helper()
	mails := testenv.WaitForMails(t, address, n, 20*time.Second)
	m := invitationLinkRe.FindStringSubmatch(mails[n-1].Text)
	if m == nil || !strings.HasPrefix(mails[n-1].Subject, "Invitasjon til kportal") {
		t.Fatalf("invitation mail: %q\n%s", mails[n-1].Subject, mails[n-1].Text)
	}
	return m[1]
}

func registryOrg(t *testing.T, orgnr string) string {
	t.Helper()
	var id uuid.UUID
	if err := testenv.Get(t).App.NewSelect().Table("org_registry").Column("id").Where("orgnr = ?", orgnr).Scan(context.Background(), &id); err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// testTenant creates a tenant of a kind (a kommune gets a kommunenummer).
func testTenant(t *testing.T, name string, kind tenants.Kind) *tenants.Tenant {
	t.Helper()
	tn := &tenants.Tenant{Slug: "t-" + uuid.NewString()[:8], Name: name, Kind: kind}
	if kind == tenants.KindKommune {
		tn.Kommunenummer = "3218"
	}
	if err := tenants.Create(context.Background(), testenv.Get(t).App, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

// member creates a user with a password and a role in tn.
func member(t *testing.T, cfg *config, given string, tn *tenants.Tenant, role string) (email, password string, person uuid.UUID) {
	t.Helper()
	email, password = newUser(t, cfg, given)
	person = personFor(t, cfg, email)
	if err := tenants.AddMembership(context.Background(), testenv.Get(t).App, tn.ID, person, role); err != nil {
		t.Fatal(err)
	}
	return email, password, person
}

// browserLogin signs a person in through kportal's login page in Chromium.
func browserLogin(ctx context.Context, base, email, password string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(base+"/logg-inn"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"] input[name="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`form[data-group="password"] button[value="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-name"]`)),
	)
}

// steps is a browser journey: actions run in order.
type steps = []chromedp.Action[chromedp.Void]

// seq joins journeys' steps.
func seq(parts ...steps) steps {
	var out steps
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// loginSteps fill and send the password form of the page shown.
func loginSteps(email, password string) steps {
	return steps{
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`form[data-group="password"] button[value="password"]`)),
	}
}

// logoutSteps sign out from the menu and wait for the login form.
var logoutSteps = steps{chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`))}

// stepwise runs a journey one step at a time, each bounded, so a failure
// names its step and leaves a screenshot.
func stepwise(t *testing.T, ctx context.Context, name string, parts ...steps) error {
	t.Helper()
	i := 0
	for _, ss := range parts {
		for _, s := range ss {
			sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := chromedp.Do(sctx, s)
			cancel()
			if err != nil {
				screenshot(t, ctx, fmt.Sprintf("%s-%d", name, i))
				return fmt.Errorf("%s step %d: %w", name, i, err)
			}
			i++
		}
	}
	return nil
}

// sessionToken signs in through Kratos' native flow, as an API client would.
func sessionToken(t *testing.T, cfg *config, email, password string) string {
	t.Helper()
	return testenv.SessionToken(t, email, password)
}

// untilDone repeats a browser step that can fail while the page still moves
// (an opening animation), until it succeeds or limit has passed.
func untilDone(ctx context.Context, limit time.Duration, step chromedp.Action[chromedp.Void]) error {
	deadline := time.Now().Add(limit)
	for {
		err := chromedp.Do(ctx, step)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
