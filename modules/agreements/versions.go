package agreements

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"kportal/tenants"
	"kportal/workers"
)

//go:embed versions/*.md
var embeddedVersions embed.FS

// EmbeddedVersions is the set of agreement versions shipped with kportal: one
// file per version (versions/<id>.md), each a metadata block and the text as a
// text/template.
func EmbeddedVersions() fs.FS {
	sub, err := fs.Sub(embeddedVersions, "versions")
	if err != nil {
		panic(err) // the embed pattern makes this unreachable
	}
	return sub
}

// Version is one published version of the agreement.
type Version struct {
	ID        string    // "2026-1"
	Published time.Time // the day it takes effect, midnight Europe/Oslo
	Title     string
	tmpl      *template.Template
}

// PublishedText is the publication date in Norwegian ("1. november 2026").
func (v *Version) PublishedText() string { return norwegianDate(v.Published) }

// Party is the behandlingsansvarlig as the text names them.
type Party struct {
	Name          string
	Orgnr         string
	Kommunenummer string
	Noun          string // "kommunen" or "virksomheten"
}

// Operator is kportal's operator, the databehandler.
type Operator struct {
	Name  string
	Orgnr string
	Email string
}

// DefaultOperator names the databehandler when none is configured.
var DefaultOperator = Operator{Name: "Driftsorganisasjonen for kportal", Email: "personvern@kportal.no"}

// ControllerOf is the behandlingsansvarlig for a tenant.
func ControllerOf(t *tenants.Tenant) Party {
	noun := "virksomheten"
	if t.Kind == tenants.KindKommune {
		noun = "kommunen"
	}
	return Party{Name: t.Name, Orgnr: t.Orgnr, Kommunenummer: t.Kommunenummer, Noun: noun}
}

// Text is a version rendered for one tenant: exactly what is shown and signed.
type Text struct {
	Version  *Version
	Body     string
	Checksum string // hex sha256 of Body's UTF-8 bytes
}

// Render fills a version's text with the parties' details.
func (v *Version) Render(controller Party, processor Operator) (*Text, error) {
	var buf bytes.Buffer
	data := map[string]any{
		"Controller": controller,
		"Processor":  processor,
		"Version":    map[string]string{"ID": v.ID, "PublishedText": v.PublishedText()},
	}
	if err := v.tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("agreement version %s: %w", v.ID, err)
	}
	body := normalize(buf.String())
	return &Text{Version: v, Body: body, Checksum: Checksum(body)}, nil
}

// Checksum is the hex sha256 of a text's UTF-8 bytes.
func Checksum(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// normalize makes a rendered text's bytes stable: LF line ends, no trailing
// spaces, one final newline.
func normalize(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n")) + "\n"
}

// Catalog is a set of versions, oldest first.
type Catalog struct {
	versions []*Version
}

var (
	versionIDRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$`)
	sample      = Party{Name: "Eksempel kommune", Orgnr: "964338531", Kommunenummer: "4601", Noun: "kommunen"}
)

// LoadCatalog reads every *.md file at the root of fsys. A file starts with a
// metadata block:
//
//	---
//	id: 2026-1
//	published: 2026-11-01
//	title: Databehandleravtale for kportal
//	---
//
// followed by the text, a text/template with .Controller (Party), .Processor
// (Operator) and .Version (.ID, .PublishedText). Lines starting "# " and "## "
// are headings, "- " list items, and blank lines separate paragraphs.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("agreement versions: no *.md files")
	}
	c := &Catalog{}
	seen := map[string]bool{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		v, err := parseVersion(name, string(b))
		if err != nil {
			return nil, err
		}
		if seen[v.ID] {
			return nil, fmt.Errorf("agreement version %s is defined twice", v.ID)
		}
		seen[v.ID] = true
		if _, err := v.Render(sample, DefaultOperator); err != nil {
			return nil, err
		}
		c.versions = append(c.versions, v)
	}
	sort.SliceStable(c.versions, func(i, j int) bool {
		a, b := c.versions[i], c.versions[j]
		if !a.Published.Equal(b.Published) {
			return a.Published.Before(b.Published)
		}
		return a.ID < b.ID
	})
	return c, nil
}

func parseVersion(name, src string) (*Version, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	rest, ok := strings.CutPrefix(src, "---\n")
	if !ok {
		return nil, fmt.Errorf("agreement version %s: must start with a --- metadata block", name)
	}
	meta, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return nil, fmt.Errorf("agreement version %s: the metadata block has no closing ---", name)
	}
	v := &Version{}
	for _, line := range strings.Split(meta, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("agreement version %s: bad metadata line %q", name, line)
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(k) {
		case "id":
			v.ID = val
		case "title":
			v.Title = val
		case "published":
			d, err := time.ParseInLocation("2006-01-02", val, workers.Oslo)
			if err != nil {
				return nil, fmt.Errorf("agreement version %s: published %q is not a date (YYYY-MM-DD)", name, val)
			}
			v.Published = d
		default:
			return nil, fmt.Errorf("agreement version %s: unknown metadata %q", name, k)
		}
	}
	if !versionIDRe.MatchString(v.ID) {
		return nil, fmt.Errorf("agreement version %s: id %q is missing or not valid", name, v.ID)
	}
	if v.ID+".md" != path.Base(name) {
		return nil, fmt.Errorf("agreement version %s: id %q must match the file name", name, v.ID)
	}
	if v.Published.IsZero() {
		return nil, fmt.Errorf("agreement version %s: published date is missing", name)
	}
	if v.Title == "" {
		v.Title = "Databehandleravtale"
	}
	t, err := template.New(name).Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, fmt.Errorf("agreement version %s: %w", name, err)
	}
	v.tmpl = t
	return v, nil
}

// Current is the newest version published on or before now's date in Norway,
// nil when none is.
func (c *Catalog) Current(now time.Time) *Version {
	y, m, d := now.In(workers.Oslo).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, workers.Oslo)
	var cur *Version
	for _, v := range c.versions {
		if !v.Published.After(today) {
			cur = v
		}
	}
	return cur
}

// Get returns a version by id, nil when there is none.
func (c *Catalog) Get(id string) *Version {
	for _, v := range c.versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// All lists the versions, oldest first.
func (c *Catalog) All() []*Version { return append([]*Version(nil), c.versions...) }

// Block is one piece of a rendered text: a heading, a paragraph or a list.
type Block struct {
	Kind  string // "h1", "h2", "p", "ul"
	Text  string
	Items []string // for "ul"
}

// Blocks splits a rendered text into headings, paragraphs and lists.
func Blocks(body string) []Block {
	var out []Block
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, Block{Kind: "p", Text: strings.Join(para, " ")})
			para = nil
		}
	}
	for _, line := range strings.Split(body, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "## "):
			flush()
			out = append(out, Block{Kind: "h2", Text: strings.TrimSpace(line[3:])})
		case strings.HasPrefix(line, "# "):
			flush()
			out = append(out, Block{Kind: "h1", Text: strings.TrimSpace(line[2:])})
		case strings.HasPrefix(line, "- "):
			flush()
			item := strings.TrimSpace(line[2:])
			if n := len(out); n > 0 && out[n-1].Kind == "ul" {
				out[n-1].Items = append(out[n-1].Items, item)
			} else {
				out = append(out, Block{Kind: "ul", Items: []string{item}})
			}
		default:
			para = append(para, strings.TrimSpace(line))
		}
	}
	flush()
	return out
}

var months = [...]string{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "desember"}

// norwegianDate writes a date as Norwegians do ("1. november 2026"). It reads
// the date as t holds it, without moving it to another zone: dates from the
// database are midnight UTC, published dates midnight in Oslo.
func norwegianDate(t time.Time) string {
	return fmt.Sprintf("%d. %s %d", t.Day(), months[t.Month()-1], t.Year())
}

// norwegianTime is a moment as Norwegians write it: "22.11.2026 kl. 14:03".
func norwegianTime(t time.Time) string {
	return t.In(workers.Oslo).Format("02.01.2006 kl. 15:04")
}
