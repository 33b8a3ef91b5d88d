package notifications

import (
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"kportal/workers"
)

// SettingsPath is the page where a person chooses their notifications; every
// e-mail links to it.
const SettingsPath = "/varsler/innstillinger"

// mailItem is one thing told in an e-mail.
type mailItem struct {
	Title  string
	Tenant string
	URL    string // absolute
}

type mailGroup struct {
	Label string
	Items []mailItem
}

type mailData struct {
	Name     string
	Item     mailItem    // immediate e-mail
	Label    string      // immediate e-mail: the type's name
	Groups   []mailGroup // weekly summary
	Week     string
	Count    int
	Settings string // absolute URL of the settings page
}

var funcs = map[string]any{"plural": func(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}}

var (
	immediateText = texttemplate.Must(texttemplate.New("t").Funcs(funcs).Parse(`Hei{{with .Name}} {{.}}{{end}},

{{.Item.Title}} ({{.Item.Tenant}}).

Åpne i kportal:
{{.Item.URL}}

Du får denne e-posten fordi e-post er valgt for «{{.Label}}». Velg hvilke varsler du får, og hvordan:
{{.Settings}}

Hilsen kportal
`))
	immediateHTML = htmltemplate.Must(htmltemplate.New("h").Funcs(funcs).Parse(`<p>Hei{{with .Name}} {{.}}{{end}},</p>
<p><strong>{{.Item.Title}}</strong> ({{.Item.Tenant}}).</p>
<p><a href="{{.Item.URL}}">Åpne i kportal</a></p>
<p style="color:#555">Du får denne e-posten fordi e-post er valgt for «{{.Label}}». <a href="{{.Settings}}">Velg hvilke varsler du får, og hvordan</a>.</p>
<p>Hilsen kportal</p>`))
	digestText = texttemplate.Must(texttemplate.New("t").Funcs(funcs).Parse(`Hei{{with .Name}} {{.}}{{end}},

her er det som har skjedd i kportal siden sist ({{.Count}} {{plural .Count "varsel" "varsler"}}, uke {{.Week}}).
{{range .Groups}}
{{.Label}}
{{range .Items}}- {{.Title}} ({{.Tenant}})
  {{.URL}}
{{end}}{{end}}
Du får denne oppsummeringen hver onsdag fordi den er valgt for disse varslene. Velg hvilke varsler du får, og hvordan:
{{.Settings}}

Hilsen kportal
`))
	digestHTML = htmltemplate.Must(htmltemplate.New("h").Funcs(funcs).Parse(`<p>Hei{{with .Name}} {{.}}{{end}},</p>
<p>her er det som har skjedd i kportal siden sist ({{.Count}} {{plural .Count "varsel" "varsler"}}, uke {{.Week}}).</p>
{{range .Groups}}<h2 style="font-size:1.1em">{{.Label}}</h2>
<ul>{{range .Items}}<li><a href="{{.URL}}">{{.Title}}</a> ({{.Tenant}})</li>{{end}}</ul>
{{end}}<p style="color:#555">Du får denne oppsummeringen hver onsdag fordi den er valgt for disse varslene. <a href="{{.Settings}}">Velg hvilke varsler du får, og hvordan</a>.</p>
<p>Hilsen kportal</p>`))
)

func render(to, subject string, text *texttemplate.Template, html *htmltemplate.Template, d mailData) (workers.Mail, error) {
	var tb, hb strings.Builder
	if err := text.Execute(&tb, d); err != nil {
		return workers.Mail{}, err
	}
	if err := html.Execute(&hb, d); err != nil {
		return workers.Mail{}, err
	}
	return workers.Mail{To: to, Subject: subject, Text: tb.String(), HTML: hb.String()}, nil
}
