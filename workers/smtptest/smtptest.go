// Package smtptest is a tiny SMTP server for tests, in the spirit of
// net/http/httptest: it speaks STARTTLS or implicit TLS with a self-signed
// certificate of its own (for localhost and 127.0.0.1), takes AUTH PLAIN only
// over TLS, and keeps the messages it received. Maildev offers no TLS at all,
// so it cannot show that the mailer works against a real server.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Mode is how the server offers TLS.
type Mode int

const (
	StartTLS Mode = iota // plain connection, STARTTLS offered (port 587)
	Implicit             // TLS from the first byte (smtps, port 465)
	Plain                // no TLS at all, like maildev
)

// Options configure a Server.
type Options struct {
	Mode Mode
	// User and Password: AUTH PLAIN is offered and these are accepted; with
	// no User, AUTH is not offered. A Plain server with a User offers AUTH
	// without TLS (as a badly configured server would) and refuses it.
	User, Password string
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data string // the message as sent, dot-unstuffed
	TLS  bool   // the conversation was encrypted
	User string // who authenticated, "" for nobody
	Helo string // the name the client gave in its last EHLO or HELO
}

// Server is a running test SMTP server.
type Server struct {
	Addr   string // 127.0.0.1:port
	Port   string
	CAFile string // PEM of the server's certificate, which is its own CA

	opts    Options
	ln      net.Listener
	tlsConf *tls.Config

	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced when a message arrives
	conns   map[net.Conn]bool

	nextConn    atomic.Int64
	stallBefore atomic.Int64 // connections numbered below this never answer again
	plainAuth   atomic.Int64
	connsMade   atomic.Int64
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	cert, caFile := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Addr: ln.Addr().String(), CAFile: caFile, opts: o, ln: ln,
		tlsConf: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		changed: make(chan struct{}), conns: map[net.Conn]bool{},
	}
	_, s.Port, _ = net.SplitHostPort(s.Addr)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.connsMade.Add(1)
		go s.serve(c, s.nextConn.Add(1))
	}
}

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Messages returns what the server has accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns the first message to the address, failing the test if none
// arrives within the timeout.
func (s *Server) Wait(t testing.TB, to string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		for _, m := range s.msgs {
			for _, r := range m.To {
				if strings.EqualFold(r, to) {
					s.mu.Unlock()
					return m
				}
			}
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no message to %s within %s", to, timeout)
		}
	}
}

// PlainTextAuths is how many AUTH commands came before TLS (the server
// refused them, but the credentials had crossed the network in clear).
func (s *Server) PlainTextAuths() int { return int(s.plainAuth.Load()) }

// Connections is how many connections the server has accepted.
func (s *Server) Connections() int { return int(s.connsMade.Load()) }

// Stall makes every connection open now stop answering while staying open,
// as one silently dropped by a firewall does. New connections work.
func (s *Server) Stall() { s.stallBefore.Store(s.nextConn.Load() + 1) }

func (s *Server) serve(raw net.Conn, id int64) {
	defer func() {
		raw.Close()
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
	}()
	c := raw
	encrypted, helo := false, ""
	if s.opts.Mode == Implicit {
		tc := tls.Server(c, s.tlsConf)
		if tc.Handshake() != nil {
			return
		}
		c, encrypted = tc, true
	}
	tp := textproto.NewConn(c)
	say := func(format string, args ...any) { _ = tp.PrintfLine(format, args...) }
	say("220 smtptest ESMTP")
	var from, user string
	var to []string
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		if id < s.stallBefore.Load() {
			continue // read and ignored: the client hears nothing back
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			helo = arg
			ext := []string{"smtptest"}
			if s.opts.Mode == StartTLS && !encrypted {
				ext = append(ext, "STARTTLS")
			}
			if s.opts.User != "" {
				ext = append(ext, "AUTH PLAIN")
			}
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				say("250%s%s", sep, e)
			}
		case "STARTTLS":
			if s.opts.Mode != StartTLS || encrypted {
				say("502 5.5.1 STARTTLS not offered")
				continue
			}
			say("220 2.0.0 Ready to start TLS")
			tc := tls.Server(c, s.tlsConf)
			if tc.Handshake() != nil {
				return
			}
			c, encrypted = tc, true
			tp = textproto.NewConn(c)
			from, user, to = "", "", nil // RFC 3207: forget everything said before
		case "AUTH":
			if !encrypted {
				s.plainAuth.Add(1)
				say("530 5.7.0 Must issue a STARTTLS command first")
				continue
			}
			mech, resp, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(resp)
			parts := bytes.Split(raw, []byte{0})
			if !strings.EqualFold(mech, "PLAIN") || err != nil || len(parts) != 3 ||
				string(parts[1]) != s.opts.User || string(parts[2]) != s.opts.Password || s.opts.User == "" {
				say("535 5.7.8 Authentication credentials invalid")
				continue
			}
			user = s.opts.User
			say("235 2.7.0 Authentication successful")
		case "MAIL":
			if s.opts.User != "" && user == "" {
				say("530 5.7.0 Authentication required")
				continue
			}
			from, to = address(arg), nil
			say("250 2.1.0 Ok")
		case "RCPT":
			to = append(to, address(arg))
			say("250 2.1.5 Ok")
		case "DATA":
			if from == "" || len(to) == 0 {
				say("503 5.5.1 MAIL and RCPT first")
				continue
			}
			say("354 End data with <CR><LF>.<CR><LF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return // cut off before the end: no message
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, Message{From: from, To: to, Data: string(data), TLS: encrypted, User: user, Helo: helo})
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			from, to = "", nil
			say("250 2.0.0 Ok: queued")
		case "RSET":
			from, to = "", nil
			say("250 2.0.0 Ok")
		case "NOOP":
			say("250 2.0.0 Ok")
		case "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("502 5.5.2 Command not recognized")
		}
	}
}

// address is the mailbox in "FROM:<a@b.no>" or "TO:<a@b.no> SIZE=1".
func address(arg string) string {
	_, a, _ := strings.Cut(arg, ":")
	a, _, _ = strings.Cut(strings.TrimSpace(a), " ")
	return strings.Trim(a, "<>")
}

// selfSigned makes a certificate for localhost, 127.0.0.1 and ::1 that is
// its own CA, and writes it as PEM for a client to trust.
func selfSigned(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "smtptest-ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}
