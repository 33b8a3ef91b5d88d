package workers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// TypeSendMail sends one e-mail.
const TypeSendMail = "mail:send"

// Mail is one e-mail with a plain text and an HTML body.
type Mail struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
}

// NewSendMailTask returns a task that sends m. queue says how urgent it is.
func NewSendMailTask(m Mail, queue string, opts ...asynq.Option) (*asynq.Task, error) {
	if _, err := mail.ParseAddress(m.To); err != nil {
		return nil, fmt.Errorf("recipient %q is not an e-mail address", m.To)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeSendMail, b, append([]asynq.Option{asynq.Queue(queue), asynq.MaxRetry(10)}, opts...)...), nil
}

// Mailer sends e-mail through an SMTP server.
type Mailer struct {
	Addr string // host:port
	Auth smtp.Auth
	From mail.Address
	// idle holds a few connections between messages: a summary run sends
	// thousands, and a new connection costs STARTTLS and AUTH each time.
	idle chan *smtp.Client
}

// mailerIdle is how many connections a Mailer keeps open between messages.
const mailerIdle = 8

// NewMailer parses an smtp:// URL (smtp://user:pass@host:port); with
// credentials it authenticates with PLAIN, which net/smtp allows only over TLS
// or to localhost.
func NewMailer(rawURL, from string) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "smtp" || u.Host == "" {
		return nil, fmt.Errorf("SMTP URL %q must look like smtp://[user:password@]host:port", rawURL)
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("sender %q is not an e-mail address", from)
	}
	m := &Mailer{Addr: u.Host, From: *addr, idle: make(chan *smtp.Client, mailerIdle)}
	if u.User != nil {
		pw, _ := u.User.Password()
		m.Auth = smtp.PlainAuth("", u.User.Username(), pw, u.Hostname())
	}
	return m, nil
}

// Send delivers m.
func (s *Mailer) Send(ctx context.Context, m Mail) error { return s.SendRecorded(ctx, m, nil) }

// SendRecorded delivers m and calls record (which commits "sent" wherever the
// caller keeps it) after the message's body is written and before the line
// that completes it: SMTP servers discard a message whose DATA never ended. So
// a process killed before record has sent nothing, and one killed after it
// has sent the message or lost it within a single write, never sent it twice
// on a retry that reads the record. An error from record abandons the message.
func (s *Mailer) SendRecorded(ctx context.Context, m Mail, record func() error) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	c, err := s.client(ctx)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			c.Close() // a message not ended here is discarded by the server
		}
	}()
	if err := c.Mail(s.From.Address); err != nil {
		return err
	}
	if err := c.Rcpt(m.To); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if record != nil {
		if err := record(); err != nil {
			return err // closing the connection without ending DATA discards the message
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	done = true
	select {
	case s.idle <- c: // kept for the next message
	default:
		_ = c.Quit()
	}
	return nil
}

// client is an idle connection that still answers (RSET), or a new one.
func (s *Mailer) client(ctx context.Context) (*smtp.Client, error) {
	for {
		select {
		case c := <-s.idle:
			if c.Reset() == nil {
				return c, nil
			}
			c.Close()
			continue
		default:
		}
		break
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP server %s: %w", s.Addr, err)
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(nil); err != nil {
			c.Close()
			return nil, err
		}
	}
	if s.Auth != nil {
		if err := c.Auth(s.Auth); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (s *Mailer) build(m Mail) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	hdr := []string{
		"From: " + s.From.String(),
		"To: " + m.To,
		"Subject: " + mime.QEncoding.Encode("utf-8", m.Subject),
		"Date: " + time.Now().Format(time.RFC1123Z),
		"Message-ID: <" + hex.EncodeToString(id) + "@kportal>",
		"MIME-Version: 1.0",
		"Content-Type: multipart/alternative; boundary=" + mw.Boundary(),
	}
	head := strings.Join(hdr, "\r\n") + "\r\n\r\n"
	parts := []struct{ typ, body string }{{"text/plain; charset=utf-8", m.Text}}
	if m.HTML != "" {
		parts = append(parts, struct{ typ, body string }{"text/html; charset=utf-8", m.HTML})
	}
	for _, p := range parts {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(p.body)); err != nil {
			return nil, err
		}
		qp.Close()
	}
	mw.Close()
	return append([]byte(head), buf.Bytes()...), nil
}

// HandleSendMail is the handler for TypeSendMail.
func (s *Mailer) HandleSendMail(ctx context.Context, t *asynq.Task) error {
	var m Mail
	if err := json.Unmarshal(t.Payload(), &m); err != nil {
		return fmt.Errorf("bad mail payload: %v: %w", err, asynq.SkipRetry)
	}
	return s.Send(ctx, m)
}
