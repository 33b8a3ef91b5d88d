package workers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
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
	// Timeout bounds each exchange with the server (connecting, checking an
	// idle connection, one message), so a connection the network dropped
	// without a word fails instead of holding a worker forever.
	Timeout time.Duration

	tls         *tls.Config // nil: no TLS at all (a local sink, never with credentials)
	implicitTLS bool        // smtps://: TLS from the first byte
	hello       string      // the name given in EHLO; "" for "localhost"
	// idle holds a few connections between messages: a summary run sends
	// thousands, and a new connection costs STARTTLS and AUTH each time.
	idle chan *smtpConn
}

// smtpConn is a client and its connection, whose deadline the client hides.
type smtpConn struct {
	*smtp.Client
	conn net.Conn
}

// mailerIdle is how many connections a Mailer keeps open between messages.
const mailerIdle = 8

// DefaultMailTimeout is a Mailer's Timeout unless set.
const DefaultMailTimeout = 30 * time.Second

// MailerOption changes how a Mailer connects.
type MailerOption func(*Mailer) error

// WithHelloName has the Mailer introduce itself as name (EHLO) instead of
// net/smtp's "localhost", which relays that check the name refuse; "" changes
// nothing.
func WithHelloName(name string) MailerOption {
	return func(m *Mailer) error {
		m.hello = name
		return nil
	}
}

// WithCAFile trusts only the CA certificates in the PEM file path (a private
// relay's own CA) instead of the system's; "" changes nothing.
func WithCAFile(path string) MailerOption {
	return func(m *Mailer) error {
		if path == "" {
			return nil
		}
		if m.tls == nil {
			return fmt.Errorf("SMTP CA file %s: the SMTP URL says disable_starttls, so no certificate is checked", path)
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("SMTP CA file %s: %v", path, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("SMTP CA file %s: no PEM certificate in it", path)
		}
		m.tls.RootCAs = pool
		return nil
	}
}

// MailURLForms says which SMTP URLs NewMailer takes.
const MailURLForms = "smtp://[user:password@]host[:port] (STARTTLS required, port 587), " +
	"smtps://[user:password@]host[:port] (TLS, port 465), " +
	"or smtp://host:port/?disable_starttls=true (no TLS, no credentials: a local sink only)"

// NewMailer parses the SMTP URL (MailURLForms). The server's certificate is
// checked against the URL's host name; credentials go with AUTH PLAIN, only
// ever over TLS.
func NewMailer(rawURL, from string, opts ...MailerOption) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil { // url's error repeats the URL, password and all
		return nil, fmt.Errorf("SMTP URL is not a URL; use %s", MailURLForms)
	}
	safe := u.Redacted()
	if (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("SMTP URL %q: use %s", safe, MailURLForms)
	}
	q := u.Query()
	for k := range q {
		if k != "disable_starttls" {
			return nil, fmt.Errorf("SMTP URL %q: unknown parameter %q (the only one is disable_starttls)", safe, k)
		}
	}
	plain := false
	if v := q.Get("disable_starttls"); v != "" {
		if plain, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("SMTP URL %q: disable_starttls must be true or false", safe)
		}
	}
	switch {
	case plain && u.Scheme == "smtps":
		return nil, fmt.Errorf("SMTP URL %q: smtps:// is always TLS; disable_starttls is for a local smtp:// sink", safe)
	case plain && u.User != nil:
		return nil, fmt.Errorf("SMTP URL %q: credentials are never sent without TLS; remove disable_starttls", safe)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"smtp": "587", "smtps": "465"}[u.Scheme]
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("sender %q is not an e-mail address", from)
	}
	m := &Mailer{
		Addr: net.JoinHostPort(u.Hostname(), port), From: *addr, Timeout: DefaultMailTimeout,
		implicitTLS: u.Scheme == "smtps", idle: make(chan *smtpConn, mailerIdle),
	}
	if !plain {
		m.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		m.Auth = smtp.PlainAuth("", u.User.Username(), pw, u.Hostname())
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
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
	err := s.sendRecorded(ctx, m, record)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", ctx.Err(), err) // the deadline we forced, said as what it is
	}
	return err
}

func (s *Mailer) sendRecorded(ctx context.Context, m Mail, record func() error) error {
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
	s.deadline(ctx, c.conn) // before the hook, which must win when ctx ends
	defer context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })()
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
		s.deadline(ctx, c.conn) // recording may have used up the time
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

// deadline gives the connection Timeout from now, or less if ctx ends sooner.
func (s *Mailer) deadline(ctx context.Context, conn net.Conn) {
	d := time.Now().Add(s.timeout())
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	_ = conn.SetDeadline(d)
}

func (s *Mailer) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultMailTimeout
}

// client is an idle connection that still answers (RSET), or a new one:
// TLS (implicit or STARTTLS, which the server must offer) unless the URL
// disabled it, then AUTH.
func (s *Mailer) client(ctx context.Context) (*smtpConn, error) {
	for {
		select {
		case c := <-s.idle:
			s.deadline(ctx, c.conn)
			stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
			err := c.Reset()
			stop()
			if err == nil {
				return c, nil
			}
			c.Close()
			continue
		default:
		}
		break
	}
	d := &net.Dialer{Timeout: s.timeout()}
	var conn net.Conn
	var err error
	if s.implicitTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return nil, s.describe(err)
	}
	s.deadline(ctx, conn)
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	host, _, _ := net.SplitHostPort(s.Addr)
	sc, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return nil, s.describe(err)
	}
	c := &smtpConn{Client: sc, conn: conn}
	if err := s.secure(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// secure starts TLS where the URL asks for it and then authenticates.
func (s *Mailer) secure(c *smtpConn) error {
	hello := s.hello
	if hello == "" {
		hello = "localhost" // net/smtp's own
	}
	if err := c.Hello(hello); err != nil { // said here so a failure is not read as "no STARTTLS"
		return s.describe(err)
	}
	if s.tls != nil && !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("SMTP server %s does not offer STARTTLS, and kportal sends no mail in clear "+
				"(for a local sink without TLS add ?disable_starttls=true to the URL)", s.Addr)
		}
		if err := c.StartTLS(s.tls.Clone()); err != nil {
			return s.describe(err)
		}
	}
	if s.Auth == nil {
		return nil
	}
	if _, ok := c.TLSConnectionState(); !ok { // NewMailer never allows it; checked here too
		return fmt.Errorf("SMTP server %s: no TLS, so the credentials are not sent", s.Addr)
	}
	if err := c.Auth(s.Auth); err != nil {
		return fmt.Errorf("SMTP server %s: AUTH: %w", s.Addr, err)
	}
	return nil
}

// describe names the server, and says so plainly when its certificate is
// the problem.
func (s *Mailer) describe(err error) error {
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return fmt.Errorf("SMTP server %s: its TLS certificate is not trusted for %s (a private relay's CA goes in a CA file): %w", s.Addr, s.tls.ServerName, err)
	}
	return fmt.Errorf("SMTP server %s: %w", s.Addr, err)
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
