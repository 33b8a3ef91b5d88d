package notifications

import (
	"fmt"
	"net/url"
	"strings"
)

// Channels are the three ways to be told: an immediate e-mail, the weekly
// summary e-mail (Wednesdays), a notice on the home page.
type Channels struct {
	Email  bool
	Digest bool
	Home   bool
}

// Type is one kind of notification: an outbox topic, its Norwegian name, its
// default channels and how its notice reads.
type Type struct {
	Topic   string
	Label   string // on the settings page
	Who     string // who gets it, on the settings page
	Default Channels
	// Locked types are security-relevant: always sent by e-mail, never turned off.
	Locked bool
	// Notice is the one line shown and mailed, and the path (under the tenant)
	// to the thing to act on. Nil: not delivered through the outbox (sent
	// directly, e.g. invitations to people who have no user yet).
	Notice func(p Payload) (title, path string)
}

// Payload is an event's payload with helpers for missing or odd fields.
type Payload map[string]any

// S returns the first of keys that is a non-empty string.
func (p Payload) S(keys ...string) string {
	for _, k := range keys {
		if s, ok := p[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

func (p Payload) or(def string, keys ...string) string {
	if s := p.S(keys...); s != "" {
		return s
	}
	return def
}

// path returns the payload's own link (modules may send one) when it is a
// plain path, else def.
func (p Payload) path(def string) string {
	if s := p.S("path"); strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return s
	}
	return def
}

func quoted(s string) string {
	if s == "" {
		return ""
	}
	return " «" + s + "»"
}

var (
	on      = Channels{Email: true, Home: true}
	summary = Channels{Digest: true, Home: true}
)

// Types is every notification type, in the order the settings page shows them.
var Types = []Type{
	{Topic: "plan.assigned", Label: "Læringsmålplan tildelt", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Du har fått tildelt læringsmålplanen" + quoted(p.S("template")), "/"
		}},
	{Topic: "activity.signature_requested", Label: "Aktivitet venter på signaturen din", Who: "Supervisør", Default: summary,
		Notice: func(p Payload) (string, string) {
			return p.or("En LIS", "lis_name") + " ber deg signere" + quoted(p.S("title")), "/signering"
		}},
	{Topic: "activity.signed", Label: "Aktivitet signert", Who: "LIS", Default: summary,
		Notice: func(p Payload) (string, string) {
			return p.or("Supervisøren", "supervisor_name") + " har signert" + quoted(p.S("title")), "/aktiviteter"
		}},
	{Topic: "activity.rejected", Label: "Aktivitet avvist", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return p.or("Supervisøren", "supervisor_name") + " har avvist" + quoted(p.S("title")), "/aktiviteter"
		}},
	{Topic: "goal.sent", Label: "Læringsmål sendt til godkjenning", Who: "Leder og den lederen har delegert til", Default: on,
		Notice: func(p Payload) (string, string) {
			return p.or("En LIS", "lis_name") + " har sendt læringsmål " + p.S("goal_code") + " til godkjenning", "/godkjenning"
		}},
	{Topic: "goal.input_requested", Label: "Innspill til læringsmål", Who: "Veileder og supervisør", Default: on,
		Notice: func(p Payload) (string, string) {
			return p.or("En LIS", "lis_name") + " ber om innspill til læringsmål " + p.S("goal_code"), "/innspill"
		}},
	{Topic: "goal.approved", Label: "Læringsmål godkjent", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Læringsmål " + p.S("goal_code") + " er godkjent", goalPath(p)
		}},
	{Topic: "goal.rejected", Label: "Læringsmål ikke godkjent", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Læringsmål " + p.S("goal_code") + " er ikke godkjent", goalPath(p)
		}},
	{Topic: "goal.returned", Label: "Læringsmål sendt tilbake", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Læringsmål " + p.S("goal_code") + " er sendt tilbake til deg", goalPath(p)
		}},
	{Topic: "goal.recalled", Label: "Læringsmål trukket tilbake", Who: "Leder og den lederen har delegert til", Default: summary,
		Notice: func(p Payload) (string, string) {
			return p.or("LIS-en", "lis_name") + " har trukket tilbake læringsmål " + p.S("goal_code"), "/godkjenning"
		}},
	{Topic: "goal.reassess", Label: "Læringsmål må vurderes på nytt", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Læringsmål " + p.S("goal_code") + " må godkjennes på nytt etter katalogversjon " + p.S("version"), goalPath(p)
		}},
	{Topic: "advisory.planned", Label: "Veiledningssamtale planlagt", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			t := p.or("Veilederen din", "veileder_name", "advisor_name") + " har planlagt en veiledningssamtale"
			if when := p.S("when", "planned_for", "planned_at", "date"); when != "" {
				t += " " + when
			}
			return t, p.path("/")
		}},
	{Topic: "advisory.preparation_due", Label: "Forberedelse til veiledningssamtale", Who: "LIS og veileder", Default: on,
		Notice: func(p Payload) (string, string) {
			t := "Husk å skrive forberedelsen til veiledningssamtalen"
			if when := p.S("when", "planned_for", "planned_at", "date"); when != "" {
				t += " " + when
			}
			return t, p.path("/")
		}},
	{Topic: "agreement.to_sign", Label: "Databehandleravtale til signering", Who: "Administrator i kommune", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Databehandleravtalen" + quoted(p.S("version")) + " venter på signatur", "/databehandleravtale"
		}},
	{Topic: "registration.reviewed", Label: "Registrering som utdanningsvirksomhet behandlet", Who: "Administrator", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Helsedirektoratet har behandlet registreringen: " + p.or("se status", "outcome_text", "state"), "/utdanningsvirksomhet"
		}},
	{Topic: "transfer.announced", Label: "LIS har meldt at de begynner her", Who: "Leder og administrator ved den nye virksomheten", Default: on,
		Notice: func(p Payload) (string, string) {
			return p.or("En LIS", "lis_name") + " har meldt at de begynner her " + p.S("starts_on") + ": bekreft og velg plan", p.path("/arbeidsstedsbytte")
		}},
	{Topic: "transfer.cancelled", Label: "Arbeidsstedsbytte avlyst", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Byttet til " + p.or("den nye virksomheten", "to_name") + " " + p.S("starts_on") + " er avlyst", "/"
		}},
	{Topic: "transfer.started", Label: "Arbeidsstedsbytte gjennomført", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Velkommen til " + p.or("den nye virksomheten", "to_name") + ": godkjente læringsmål og tidligere aktiviteter følger deg", "/laeringsmaal"
		}},
	{Topic: "transfer.arrived", Label: "Ny LIS har begynt", Who: "Leder ved den nye virksomheten og den som registrerte byttet", Default: on,
		Notice: func(p Payload) (string, string) {
			return p.or("En LIS", "lis_name") + " har begynt her fra " + p.or("en annen virksomhet", "from_name"), p.path("/arbeidsstedsbytte")
		}},
	{Topic: "transfer.veileder", Label: "Du følger med som veileder", Who: "Veileder, ved bytte innen samme RHF", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Du er fortsatt veileder for " + p.or("LIS-en", "lis_name") + ", nå ved " + p.or("den nye virksomheten", "to_name"), "/veiledning"
		}},
	{Topic: "transfer.left", Label: "LIS har sluttet", Who: "Leder ved den gamle virksomheten (uten leder: administratorene)", Default: summary,
		Notice: func(p Payload) (string, string) {
			return p.or("En LIS", "lis_name") + " har begynt ved " + p.or("en annen virksomhet", "to_name") + " " + p.S("starts_on"), "/arbeidsstedsbytte"
		}},
	{Topic: "transfer.returned", Label: "Ventende arbeid returnert etter flytting", Who: "LIS", Default: on,
		Notice: func(p Payload) (string, string) {
			return "Aktiviteter og læringsmål som ventet ved " + p.or("den gamle virksomheten", "from_name") + ", er returnert til deg: send dem på nytt her", "/aktiviteter"
		}},
	{Topic: "invitation.sent", Label: "Invitasjoner", Who: "Den som inviteres", Default: Channels{Email: true}, Locked: true},
}

func goalPath(p Payload) string {
	if code := p.S("goal_code"); code != "" {
		return "/laeringsmaal/" + url.PathEscape(code)
	}
	return "/laeringsmaal"
}

var byTopic = func() map[string]*Type {
	m := map[string]*Type{}
	for i := range Types {
		if _, dup := m[Types[i].Topic]; dup {
			panic(fmt.Sprintf("notification type %s twice", Types[i].Topic))
		}
		m[Types[i].Topic] = &Types[i]
	}
	return m
}()

// TypeOf returns the type of a topic, or nil for a topic nobody is told about.
func TypeOf(topic string) *Type { return byTopic[topic] }

// Effective is what a person gets for t: their choice where they made one,
// else the default; locked types always as their default.
func (t *Type) Effective(choice *Channels) Channels {
	if t.Locked || choice == nil {
		return t.Default
	}
	return *choice
}
