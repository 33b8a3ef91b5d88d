package identity

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/ratelimit"
	"kportal/modules/web"
	"kportal/workers"
)

//go:embed templates
var templatesFS embed.FS

// Module is the identity module: session handling and self-service pages.
type Module struct {
	kratos   *Kratos
	sessions *Sessions
	pages    *web.Pages
	queue    Enqueuer
	limiter  *ratelimit.Limiter
}

// Enqueuer puts a job on the queue (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// New returns the identity module.
func New(k *Kratos, s *Sessions, nav web.NavFunc, queue Enqueuer) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{kratos: k, sessions: s, pages: web.MustPages(sub, nav), queue: queue}
}

// LimitWith has the module count sign-in attempts, code requests and test
// e-mails against l.
func (m *Module) LimitWith(l *ratelimit.Limiter) *Module {
	m.limiter = l
	return m
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "identity", Title: "Innlogging og konto", Requires: []string{"web"}}
}

// kind is one of Kratos' self-service flows and the kportal page that shows it.
type kind struct {
	name  string // Kratos' name: login, registration, ...
	path  string // kportal's page
	title string
}

var (
	login        = kind{"login", "/logg-inn", "Logg inn"}
	registration = kind{"registration", "/registrer", "Opprett bruker"}
	recovery     = kind{"recovery", "/glemt-passord", "Glemt passord"}
	verification = kind{"verification", "/bekreft-epost", "Bekreft e-postadresse"}
	settings     = kind{"settings", "/innstillinger", "Kontoinnstillinger"}
	kinds        = []kind{login, registration, recovery, verification, settings}
)

func (m *Module) Routes(r *modules.Router) {
	for _, k := range kinds {
		access := modules.Public()
		if k == settings {
			access = modules.SignedIn()
		}
		r.GET(k.path, m.show(k), access)
		r.POST(k.path, m.submit(k), access)
	}
	r.POST("/logg-ut", m.logout, modules.SignedIn())
	r.POST("/innstillinger/test-epost", m.testMail, modules.SignedIn())
	r.GET("/feil", m.flowError, modules.Public())
	r.GET("/api/me", m.me, modules.SignedIn())
}

// flow is the part of a Kratos flow kportal renders; the five flow types share it.
type flow struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	ReturnTo string `json:"return_to"`
	Refresh  bool   `json:"refresh"`
	UI       struct {
		Action   string   `json:"action"`
		Method   string   `json:"method"`
		Nodes    []node   `json:"nodes"`
		Messages []uiText `json:"messages"`
	} `json:"ui"`
}

type node struct {
	Type       string `json:"type"`
	Group      string `json:"group"`
	Attributes struct {
		Name         string `json:"name"`
		Type         string `json:"type"`
		Value        any    `json:"value"`
		Required     bool   `json:"required"`
		Disabled     bool   `json:"disabled"`
		Autocomplete string `json:"autocomplete"`
		Pattern      string `json:"pattern"`
		Text         uiText `json:"text"` // for text nodes
		NodeType     string `json:"node_type"`
	} `json:"attributes"`
	Messages []uiText `json:"messages"`
	Meta     struct {
		Label *uiText `json:"label"`
	} `json:"meta"`
}

type uiText struct {
	ID      int64          `json:"id"`
	Text    string         `json:"text"`
	Type    string         `json:"type"`
	Context map[string]any `json:"context"`
}

// kratosReply is what Kratos answered to a flow request.
type kratosReply struct {
	status int
	body   []byte
	header http.Header
}

// call talks to Kratos' public API on the browser's behalf: it forwards the
// browser's cookies and hands Kratos' cookies back, so the browser only ever
// talks to kportal. The five flows are generic enough that one plain HTTP call
// serves them all, where the generated client would need one typed path each.
func (m *Module) call(c echo.Context, method, path string, body any) (*kratosReply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.Request().Context(), method, strings.TrimSuffix(m.kratos.PublicURL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ck := c.Request().Header.Get("Cookie"); ck != "" {
		req.Header.Set("Cookie", ck)
	}
	resp, err := m.kratos.http.Do(req)
	if err != nil {
		return nil, unavailable(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, unavailable(err)
	}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		c.Response().Header().Add("Set-Cookie", sc)
	}
	return &kratosReply{status: resp.StatusCode, body: b, header: resp.Header}, nil
}

func unavailable(err error) error {
	return apperr.Wrap(err, apperr.Unavailable, "Innloggingstjenesten svarer ikke akkurat nå. Prøv igjen om litt.")
}

// show renders a flow, creating one first when the URL names none.
func (m *Module) show(k kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		if k == login && c.QueryParam("refresh") == "" && modules.ViewerFrom(c.Request().Context()) != nil {
			return c.Redirect(http.StatusSeeOther, localPath(c.QueryParam("return_to")))
		}
		id := c.QueryParam("flow")
		if id == "" {
			return m.start(c, k)
		}
		rep, err := m.call(c, http.MethodGet, "/self-service/"+k.name+"/flows?id="+url.QueryEscape(id), nil)
		if err != nil {
			return err
		}
		if rep.status != http.StatusOK {
			// Expired, unknown or someone else's flow: start afresh, once. A
			// second failure in a row means the browser keeps no cookies.
			if c.QueryParam("ny") != "" {
				return apperr.New(apperr.Invalid, "Innloggingen krever at nettleseren tillater informasjonskapsler (cookies) fra dette nettstedet.")
			}
			return m.start(c, k)
		}
		var f flow
		if err := json.Unmarshal(rep.body, &f); err != nil {
			return err
		}
		return m.render(c, k, &f, http.StatusOK)
	}
}

// start creates a new browser flow and redirects to the page showing it, so a
// reload shows the same flow.
func (m *Module) start(c echo.Context, k kind) error {
	q := url.Values{}
	if k == login && c.QueryParam("refresh") == "true" {
		q.Set("refresh", "true")
	}
	path := "/self-service/" + k.name + "/browser"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	rep, err := m.call(c, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	switch rep.status {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusForbidden, http.StatusUnauthorized:
		// Kratos refuses e.g. registration while signed in, settings while not.
		if k == settings {
			return c.Redirect(http.StatusSeeOther, "/logg-inn?return_to="+url.QueryEscape(settings.path))
		}
		if id := errorID(rep.body); id == "session_already_available" {
			return c.Redirect(http.StatusSeeOther, "/")
		}
		return apperr.New(apperr.Invalid, "Dette kan ikke gjøres nå. Gå til forsiden og prøv igjen.")
	default:
		return unavailable(fmt.Errorf("kratos %s: HTTP %d: %s", path, rep.status, rep.body))
	}
	var f flow
	if err := json.Unmarshal(rep.body, &f); err != nil {
		return err
	}
	// Keep what the page was asked to show (return_to, notices) with the new flow.
	q = c.QueryParams()
	if q.Get("flow") != "" {
		q.Set("ny", "1")
	}
	q.Set("flow", f.ID)
	q.Del("refresh")
	if rt := q.Get("return_to"); rt != "" {
		q.Set("return_to", localPath(rt))
	}
	return c.Redirect(http.StatusSeeOther, k.path+"?"+q.Encode())
}

// submit forwards a form to Kratos and shows what comes back: the same flow with
// messages, the next step of it, or (on success) the page the user came for.
func (m *Module) submit(k kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.QueryParam("flow")
		if id == "" {
			return c.Redirect(http.StatusSeeOther, k.path)
		}
		form, err := c.FormParams()
		if err != nil {
			return apperr.New(apperr.Invalid, "Skjemaet kunne ikke leses.")
		}
		body := map[string]any{}
		for key, vals := range form {
			if key == "_csrf" || len(vals) == 0 {
				continue
			}
			setPath(body, key, vals[0])
		}
		if err := m.limited(c, k, form); err != nil {
			return m.refuse(c, k, id, form, err)
		}
		rep, err := m.call(c, http.MethodPost, "/self-service/"+k.name+"?flow="+url.QueryEscape(id), body)
		if err != nil {
			return err
		}
		returnTo := localPath(c.QueryParam("return_to"))
		switch rep.status {
		case http.StatusOK:
			var f flow
			if json.Unmarshal(rep.body, &f) == nil && f.ID != "" && f.UI.Action != "" {
				// Recovery, verification and settings answer with the next state of the flow.
				return m.render(c, k, &f, http.StatusOK)
			}
			if id := verificationFlow(rep.body); k == registration && id != "" {
				// Kratos has mailed a code to the new address: ask for it now, while
				// the mail is fresh. Some pages (an invitation) need the address
				// verified; return_to goes along.
				q := url.Values{"flow": {id}}
				if returnTo != "/" {
					q.Set("return_to", returnTo)
				}
				return c.Redirect(http.StatusSeeOther, verification.path+"?"+q.Encode())
			}
			return c.Redirect(http.StatusSeeOther, returnTo)
		case http.StatusBadRequest:
			var f flow
			if err := json.Unmarshal(rep.body, &f); err != nil || f.ID == "" {
				return apperr.Wrap(fmt.Errorf("kratos %s: HTTP 400: %.500s", k.name, rep.body), apperr.Invalid, "Skjemaet er ikke gyldig.")
			}
			status := http.StatusOK // the next step of the flow
			if f.hasErrors() {
				status = http.StatusUnprocessableEntity
			}
			return m.render(c, k, &f, status)
		case http.StatusGone:
			// The flow expired: start a new one; the user sees a fresh form.
			return c.Redirect(http.StatusSeeOther, k.path+"?return_to="+url.QueryEscape(returnTo))
		case http.StatusUnprocessableEntity, http.StatusForbidden, http.StatusUnauthorized:
			if to := redirectTarget(rep.body); to != "" {
				return c.Redirect(http.StatusSeeOther, to)
			}
			if errorID(rep.body) == "security_csrf_violation" {
				return apperr.New(apperr.Forbidden, "Skjemaet er utløpt. Last siden på nytt og prøv igjen.")
			}
			return c.Redirect(http.StatusSeeOther, k.path)
		default:
			return unavailable(fmt.Errorf("kratos %s submit: HTTP %d: %s", k.name, rep.status, rep.body))
		}
	}
}

// limited counts a submission of a sign-in page (not settings, which needs a
// session) per client address and per e-mail address typed, and, when it asks
// for an e-mail with a code, against the code limit of that address. Checked
// before Kratos is asked, so a refused guess costs no password hash.
func (m *Module) limited(c echo.Context, k kind, form url.Values) error {
	if k == settings {
		return nil
	}
	email := ""
	for _, name := range []string{"identifier", "email", "traits.email"} {
		if email = ratelimit.Email(form.Get(name)); email != "" {
			break
		}
	}
	keys := []ratelimit.Key{{Kind: ratelimit.Address, Value: ratelimit.ClientAddress(c.RealIP())}, {Kind: ratelimit.SignIn, Value: email}}
	if sendsCode(k, form) {
		keys = append(keys, ratelimit.Key{Kind: ratelimit.Code, Value: email})
	}
	return m.limiter.Check(c.Request().Context(), keys...)
}

// sendsCode reports whether a submission asks Kratos to e-mail a code (the
// first request or "send again"), rather than entering one.
func sendsCode(k kind, form url.Values) bool {
	if form.Get("code") != "" {
		return false
	}
	switch k {
	case login, registration:
		return form.Get("method") == "code"
	case recovery, verification:
		return true
	}
	return false
}

// refuse shows a rate-limit refusal in the flow's own page, with what the
// person typed kept (not passwords), answering 429 with Retry-After. An API or
// htmx client, or a flow Kratos no longer has, gets the error as such.
func (m *Module) refuse(c echo.Context, k kind, id string, form url.Values, limitErr error) error {
	if web.IsAPI(c) || web.IsPartial(c) {
		return limitErr
	}
	rep, err := m.call(c, http.MethodGet, "/self-service/"+k.name+"/flows?id="+url.QueryEscape(id), nil)
	var f flow
	if err != nil || rep.status != http.StatusOK || json.Unmarshal(rep.body, &f) != nil {
		return limitErr
	}
	f.UI.Messages = append(f.UI.Messages, uiText{Type: "error", Text: apperr.MessageOf(limitErr)})
	for i := range f.UI.Nodes {
		a := &f.UI.Nodes[i].Attributes
		switch a.Type {
		case "password", "hidden", "submit", "button":
			continue
		}
		if v := form.Get(a.Name); v != "" {
			a.Value = v
		}
	}
	web.SetRetryAfter(c, limitErr)
	return m.render(c, k, &f, apperr.Status(apperr.RateLimited))
}

// setPath puts "traits.name.given" = v into nested maps, as Kratos expects JSON.
func setPath(m map[string]any, key string, v string) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// verificationFlow is the verification flow Kratos started after a
// registration (its "show_verification_ui"), or "".
func verificationFlow(body []byte) string {
	var r struct {
		ContinueWith []struct {
			Action string `json:"action"`
			Flow   struct {
				ID string `json:"id"`
			} `json:"flow"`
		} `json:"continue_with"`
	}
	_ = json.Unmarshal(body, &r)
	for _, c := range r.ContinueWith {
		if c.Action == "show_verification_ui" && c.Flow.ID != "" {
			return c.Flow.ID
		}
	}
	return ""
}

func errorID(body []byte) string {
	var e struct {
		Error struct {
			ID string `json:"id"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.ID
}

// redirectTarget turns Kratos' "go here in the browser" answer into a kportal
// page: its UI URLs are kportal's pages already, and its own browser
// endpoints map to the page of the same flow.
func redirectTarget(body []byte) string {
	var e struct {
		RedirectBrowserTo string `json:"redirect_browser_to"`
	}
	if json.Unmarshal(body, &e) != nil || e.RedirectBrowserTo == "" {
		return ""
	}
	u, err := url.Parse(e.RedirectBrowserTo)
	if err != nil {
		return ""
	}
	for _, k := range kinds {
		if u.Path == k.path {
			return k.path + "?" + u.RawQuery
		}
		if u.Path == "/self-service/"+k.name+"/browser" {
			q := u.Query()
			out := url.Values{}
			if q.Get("refresh") == "true" {
				out.Set("refresh", "true")
			}
			if rt := q.Get("return_to"); rt != "" {
				if ru, err := url.Parse(rt); err == nil {
					out.Set("return_to", localPath(ru.RequestURI()))
				}
			}
			return k.path + "?" + out.Encode()
		}
	}
	return localPath(u.RequestURI())
}

// localPath keeps return addresses on this site: anything else goes home.
// Only a path of this origin passes: no scheme, host or user, no backslash
// and no control character, neither as written nor once decoded, because
// browsers drop tabs and newlines and read a backslash as "/", so
// "/%09/evil.example" or "/\evil.example" would leave the site.
func localPath(p string) string {
	if p == "" || len(p) > 2048 || p[0] != '/' || unsafeInPath(p) {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || unsafeInPath(u.Path) {
		return "/"
	}
	return p
}

// unsafeInPath reports a backslash, a control character or a leading "//".
func unsafeInPath(s string) bool {
	if strings.HasPrefix(s, "//") {
		return true
	}
	for _, r := range s {
		if r == '\\' || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

func (m *Module) logout(c echo.Context) error {
	rep, err := m.call(c, http.MethodGet, "/self-service/logout/browser", nil)
	if err != nil {
		return err
	}
	var lf struct {
		Token string `json:"logout_token"`
	}
	if rep.status == http.StatusOK && json.Unmarshal(rep.body, &lf) == nil && lf.Token != "" {
		if _, err := m.call(c, http.MethodGet, "/self-service/logout?token="+url.QueryEscape(lf.Token), nil); err != nil {
			return err
		}
	}
	if ck, err := c.Cookie(SessionCookie); err == nil {
		m.sessions.Forget(ck.Value, "")
	}
	// A page may send the person on to sign in as someone else and come back
	// (an invitation for another address).
	if rt := localPath(c.FormValue("return_to")); rt != "/" {
		return web.Redirect(c, login.path+"?return_to="+url.QueryEscape(rt))
	}
	return web.Redirect(c, login.path)
}

func (m *Module) flowError(c echo.Context) error {
	return m.pages.Render(c, http.StatusOK, "flow_error", "Noe gikk galt", nil)
}

// form is one rendered form: the nodes of one method group plus the shared ones.
type form struct {
	Group  string
	Title  string
	Fields []field
	Hidden []field
	Submit []field
	Texts  []string
}

type field struct {
	Name, Type, Value, Label, Autocomplete, Pattern string
	Required, Disabled                              bool
	Errors                                          []string
}

type page struct {
	Kind     string
	Flow     *flow
	Action   string
	Messages []message
	Forms    []form
	Links    []link
	TestMail bool // settings: offer a test e-mail
	Notice   string
	Continue string // verification done: where the person was going
}

type message struct{ Text, Color string }
type link struct{ Href, Label string }

// groupOrder puts the most used way first: a password, then an e-mail code.
func groupOrder(g string) int {
	for i, o := range []string{"profile", "password", "code", "oidc"} {
		if g == o {
			return i
		}
	}
	return 99
}

var groupTitles = map[string]string{
	"password": "Med passord",
	"code":     "Med engangskode på e-post",
	"oidc":     "Med HelseID",
	"profile":  "Navn og e-post",
	"link":     "",
}

func (m *Module) render(c echo.Context, k kind, f *flow, status int) error {
	p := page{Kind: k.name, Flow: f}
	q := url.Values{"flow": {f.ID}}
	if rt := c.QueryParam("return_to"); rt != "" {
		q.Set("return_to", localPath(rt))
	}
	p.Action = k.path + "?" + q.Encode()
	for _, msg := range f.UI.Messages {
		p.Messages = append(p.Messages, message{Text: translate(msg), Color: color(msg.Type)})
	}
	var shared []node
	groups := []string{}
	byGroup := map[string][]node{}
	for _, n := range f.UI.Nodes {
		if n.Type != "input" && n.Type != "text" {
			continue // images and scripts belong to methods kportal does not offer (TOTP, WebAuthn)
		}
		if n.Group == "default" {
			shared = append(shared, n)
			continue
		}
		if _, seen := byGroup[n.Group]; !seen {
			groups = append(groups, n.Group)
		}
		byGroup[n.Group] = append(byGroup[n.Group], n)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groupOrder(groups[i]) < groupOrder(groups[j]) })
	if len(groups) == 0 && len(shared) > 0 {
		groups, byGroup["default"] = []string{"default"}, nil
	}
	for _, g := range groups {
		fm := form{Group: g, Title: groupTitles[g]}
		if k == settings && g == "password" {
			fm.Title = "Endre passord"
		}
		for _, n := range append(append([]node{}, shared...), byGroup[g]...) {
			if n.Type == "text" {
				fm.Texts = append(fm.Texts, translate(n.Attributes.Text))
				continue
			}
			fl := toField(n)
			switch {
			case fl.Type == "hidden":
				fm.Hidden = append(fm.Hidden, fl)
			case fl.Type == "submit" || fl.Type == "button":
				fm.Submit = append(fm.Submit, fl)
			default:
				fm.Fields = append(fm.Fields, fl)
			}
		}
		if len(fm.Submit) > 0 {
			p.Forms = append(p.Forms, fm)
		}
	}
	// With several forms, a field shown in all (the e-mail) is kept in each.
	if len(p.Forms) == 1 {
		p.Forms[0].Title = ""
	}
	switch k {
	case login:
		p.Links = []link{{registration.path, "Opprett bruker"}, {recovery.path, "Glemt passord?"}}
	case registration:
		p.Links = []link{{login.path, "Har du allerede bruker? Logg inn"}}
	case verification:
		if f.State == "passed_challenge" {
			p.Continue = localPath(c.QueryParam("return_to"))
		} else if modules.ViewerFrom(c.Request().Context()) == nil {
			p.Links = []link{{login.path, "Tilbake til innlogging"}}
		}
	case recovery:
		p.Links = []link{{login.path, "Tilbake til innlogging"}}
	case settings:
		p.TestMail = true
		if c.QueryParam("sendt") == "1" {
			p.Notice = "Vi har sendt en test-e-post til deg. Den kommer normalt i løpet av et minutt."
		}
	}
	return m.pages.Render(c, status, "flow", k.title, p)
}

func (f *flow) hasErrors() bool {
	for _, m := range f.UI.Messages {
		if m.Type == "error" {
			return true
		}
	}
	for _, n := range f.UI.Nodes {
		for _, m := range n.Messages {
			if m.Type == "error" {
				return true
			}
		}
	}
	return false
}

func toField(n node) field {
	a := n.Attributes
	f := field{Name: a.Name, Type: a.Type, Required: a.Required, Disabled: a.Disabled, Autocomplete: a.Autocomplete, Pattern: a.Pattern}
	switch v := a.Value.(type) {
	case string:
		f.Value = v
	case bool:
		f.Value = fmt.Sprint(v)
	case float64:
		f.Value = fmt.Sprint(v)
	}
	if n.Meta.Label != nil {
		f.Label = translate(*n.Meta.Label)
	}
	if f.Type == "" {
		f.Type = "text"
	}
	for _, msg := range n.Messages {
		f.Errors = append(f.Errors, translate(msg))
	}
	return f
}

func color(t string) string {
	switch t {
	case "error":
		return "danger"
	case "success":
		return "success"
	}
	return "info"
}

// testMail sends the signed-in person a test e-mail through the job queue, so
// they (and we) can see that mail from kportal reaches them.
func (m *Module) testMail(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	if err := m.limiter.Check(c.Request().Context(), ratelimit.Key{Kind: ratelimit.Mail, Value: v.PersonID.String()}); err != nil {
		return err // the error page says it, with Retry-After: settings is a Kratos flow, not a form of ours
	}
	t, err := workers.NewSendMailTask(workers.Mail{
		To:      v.Email,
		Subject: "Test av e-post fra kportal",
		Text:    "Hei " + v.Name() + ",\n\nDette er en test-e-post du ba om i kportal. Når du får den, kommer varsler fra kportal fram til deg.\n\nHilsen kportal",
		HTML:    "<p>Hei " + template.HTMLEscapeString(v.Name()) + ",</p><p>Dette er en test-e-post du ba om i kportal. Når du får den, kommer varsler fra kportal fram til deg.</p><p>Hilsen kportal</p>",
	}, workers.QueueMail)
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "E-postadressen din kan ikke brukes til utsending.")
	}
	if _, err := m.queue.EnqueueContext(c.Request().Context(), t); err != nil {
		return apperr.Wrap(err, apperr.Unavailable, "Vi kunne ikke sende e-posten akkurat nå. Prøv igjen om litt.")
	}
	return web.Redirect(c, settings.path+"?sendt=1")
}

// me tells an API client (cookie or X-Session-Token) who it is and where it
// belongs.
func (m *Module) me(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	type tenant struct {
		Slug  string   `json:"slug"`
		Name  string   `json:"name"`
		Kind  string   `json:"kind"`
		Roles []string `json:"roles"`
	}
	out := struct {
		PersonID   string   `json:"person_id"`
		Email      string   `json:"email"`
		GivenName  string   `json:"given_name"`
		FamilyName string   `json:"family_name"`
		Tenants    []tenant `json:"tenants"`
	}{PersonID: v.PersonID.String(), Email: v.Email, GivenName: v.GivenName, FamilyName: v.FamilyName, Tenants: []tenant{}}
	for _, ms := range v.Memberships {
		out.Tenants = append(out.Tenants, tenant{Slug: ms.Tenant.Slug, Name: ms.Tenant.Name, Kind: string(ms.Tenant.Kind), Roles: ms.Roles})
	}
	return c.JSON(http.StatusOK, out)
}
