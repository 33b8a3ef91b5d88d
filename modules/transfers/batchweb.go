package transfers

import (
	"bytes"
	"context"
	"encoding/csv"
	"html/template"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
)

// statusTemplates renders the batch page's status fragment on its own, for
// the page's polling.
var statusTemplates = template.Must(template.New("").Funcs(web.Funcs).ParseFS(templatesFS, "templates/batch.html"))

func (m *Module) batchRoutes(r *modules.Router, read, register modules.Access) {
	r.GET("/t/:tenant/arbeidsstedsbytte/mal.csv", m.batchTemplate, read)
	r.POST("/t/:tenant/arbeidsstedsbytte/csv", m.upload, register)
	r.GET("/t/:tenant/arbeidsstedsbytte/csv/:id", m.batch, read)
	r.GET("/t/:tenant/arbeidsstedsbytte/csv/:id/fremdrift", m.batchStatus, read)
}

// upload registers the arrivals of a CSV file and queues their sync. A file
// refused whole shows the list page again with why.
func (m *Module) upload(c echo.Context) error {
	v := viewer(c)
	fh, err := c.FormFile("fil")
	if err != nil {
		return m.renderList(c, http.StatusUnprocessableEntity, fileError("Velg en CSV-fil å laste opp."))
	}
	if fh.Size > MaxBatchBytes {
		return m.renderList(c, http.StatusUnprocessableEntity, fileError("Filen er for stor: høyst 2 MB og %d LIS. Del den opp i flere filer.", MaxBatchRows))
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBatchBytes+1))
	if err != nil {
		return err
	}
	rows, err := ParseBatch(data)
	if err != nil {
		return web.Answer(c, err, m.renderList, "")
	}
	// The file is registered to its end even if the browser goes away.
	ctx := context.WithoutCancel(c.Request().Context())
	b, moves, err := m.store.RegisterBatch(ctx, v.Tenant.ID, actor(v), fh.Filename, rows, m.log)
	if err != nil {
		return err
	}
	for _, t := range moves {
		if err := Enqueue(ctx, m.queue, t); err != nil {
			// The due sweep queues each move on its start date.
			m.log.Warn("transfer syncs of a file not queued; the due sweep will queue them", "batch", b.ID, "error", err)
			break
		}
	}
	return web.Redirect(c, base(v)+"/csv/"+b.ID.String())
}

type batchPage struct {
	Base string
	B    *Batch
	P    Progress
	// The moves by outcome, once the file's jobs are complete.
	Done, Failed, Waiting, Cancelled []batchMove
}

// batchMove is a move of the file as the page lists it (with the link base).
type batchMove struct {
	Transfer
	Base string
}

func (m *Module) batchData(c echo.Context) (*batchPage, error) {
	v := viewer(c)
	ctx := c.Request().Context()
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "Fant ikke filen med arbeidsstedsbytter.")
	}
	p := &batchPage{Base: base(v)}
	if p.B, err = m.store.Batch(ctx, v.Tenant.ID, id); err != nil {
		return nil, err
	}
	if p.P, err = m.store.BatchProgress(ctx, v.Tenant.ID, id); err != nil {
		return nil, err
	}
	if !p.P.Complete() {
		return p, nil
	}
	moves, err := m.store.BatchMoves(ctx, v.Tenant.ID, id)
	if err != nil {
		return nil, err
	}
	for _, x := range moves {
		t := batchMove{Transfer: x, Base: p.Base}
		switch t.Status {
		case StatusDone:
			p.Done = append(p.Done, t)
		case StatusFailed:
			p.Failed = append(p.Failed, t)
		case StatusCancelled:
			p.Cancelled = append(p.Cancelled, t)
		default:
			p.Waiting = append(p.Waiting, t)
		}
	}
	return p, nil
}

func (m *Module) batch(c echo.Context) error {
	p, err := m.batchData(c)
	if err != nil {
		return err
	}
	return m.pages.Render(c, http.StatusOK, "batch", "Arbeidsstedsbytter fra fil", p)
}

// batchStatus is the progress (and, when complete, the report) alone: the
// page polls it until the file's jobs are complete.
func (m *Module) batchStatus(c echo.Context) error {
	p, err := m.batchData(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := statusTemplates.ExecuteTemplate(&buf, "batch-status", p); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

// batchTemplate serves an example file: the header, two arrivals on the next
// rotation date, on a plan of this workplace.
func (m *Module) batchTemplate(c echo.Context) error {
	v := viewer(c)
	templates, _, err := m.options(c.Request().Context(), v.Tenant.ID)
	if err != nil {
		return err
	}
	plan := "LIS1 sykehusdel"
	if len(templates) > 0 {
		plan = templates[0].Name
	}
	date := web.Date(nextRotation(m.store.today()))
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // so Excel reads æ, ø and å as UTF-8
	w := csv.NewWriter(&buf)
	w.Comma, w.UseCRLF = ';', true
	_ = w.WriteAll([][]string{
		{"lis", "navn", "startdato", "plan", "leder", "fra"},
		{"kari.nordmann@eksempel.no", "Kari Nordmann", date, plan, "", ""},
		{"1234567", "Ola Hansen", date, plan, "per.leder@eksempel.no", "helse-bergen"},
	})
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="arbeidsstedsbytte-mal.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// nextRotation is the next LIS1 start (1 March or 1 September) after today.
func nextRotation(today time.Time) time.Time {
	for _, d := range []time.Time{
		time.Date(today.Year(), time.March, 1, 0, 0, 0, 0, time.UTC),
		time.Date(today.Year(), time.September, 1, 0, 0, 0, 0, time.UTC),
		time.Date(today.Year()+1, time.March, 1, 0, 0, 0, 0, time.UTC),
	} {
		if d.After(today) {
			return d
		}
	}
	return today
}
