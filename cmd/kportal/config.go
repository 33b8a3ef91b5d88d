package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kportal/modules/ratelimit"
	"kportal/workers"
)

// config is everything kportal reads from its environment. Every variable has
// a development default matching deploy/dev, so `make dev` needs none set.
type config struct {
	Env            string
	Addr           string
	InternalAddr   string
	BaseURL        string
	DatabaseURL    string
	MigrateURL     string
	DBMaxConns     int
	RedisAddr      string
	RedisPassword  string
	RedisDB        int
	S3Endpoint     string
	S3AccessKey    string
	S3SecretKey    string
	S3Bucket       string
	S3Secure       bool
	KratosPublic   string
	KratosAdmin    string
	SMTPURL        string
	SMTPCAFile     string
	MailFrom       string
	LogLevel       string
	SessionCache   time.Duration
	Concurrency    int
	ShutdownPeriod time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For names the client;
	// with none, the client is the direct peer.
	TrustedProxies []*net.IPNet
	Limits         map[ratelimit.Kind]ratelimit.Limit
}

type setting struct {
	env, def, help string
	set            func(c *config, v string) error
}

func str(p func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *p(c) = v; return nil }
}

func integer(p func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*p(c) = n
		return nil
	}
}

func boolean(p func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not true or false: %q", v)
		}
		*p(c) = b
		return nil
	}
}

func duration(p func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration like 30s: %q", v)
		}
		*p(c) = d
		return nil
	}
}

func limit(k ratelimit.Kind) func(*config, string) error {
	return func(c *config, v string) error {
		l, err := ratelimit.Parse(v)
		if err != nil {
			return err
		}
		if c.Limits == nil {
			c.Limits = map[ratelimit.Kind]ratelimit.Limit{}
		}
		c.Limits[k] = l
		return nil
	}
}

// proxies reads a comma-separated list of addresses and CIDR ranges.
func proxies(c *config, v string) error {
	c.TrustedProxies = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			if ip := net.ParseIP(s); ip != nil && ip.To4() != nil {
				s += "/32"
			} else {
				s += "/128"
			}
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return fmt.Errorf("not an address or CIDR range: %q", s)
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	return nil
}

var settings = []setting{
	{"KPORTAL_ENV", "development", "development, staging or production; only development lets seed and the writing benchmarks run", str(func(c *config) *string { return &c.Env })},
	{"KPORTAL_ADDR", "127.0.0.1:8080", "address the web server listens on", str(func(c *config) *string { return &c.Addr })},
	{"KPORTAL_INTERNAL_ADDR", "127.0.0.1:8081", "address of the internal listener: /metrics, /healthz, /readyz (keep it off the internet; empty: none)", str(func(c *config) *string { return &c.InternalAddr })},
	{"KPORTAL_BASE_URL", "http://localhost:8080", "public URL of the site, used in e-mail links; https makes cookies Secure and sends HSTS", str(func(c *config) *string { return &c.BaseURL })},
	{"KPORTAL_DATABASE_URL", "postgres://kportal_app:kportal_app@127.0.0.1:5432/kportal?sslmode=disable", "PostgreSQL as the application role (owns nothing, no BYPASSRLS)", str(func(c *config) *string { return &c.DatabaseURL })},
	{"KPORTAL_MIGRATE_DATABASE_URL", "postgres://kportal_owner:kportal_owner@127.0.0.1:5432/kportal?sslmode=disable", "PostgreSQL as the owner role, for migrate and seed", str(func(c *config) *string { return &c.MigrateURL })},
	{"KPORTAL_DB_MAX_CONNS", "20", "maximum open database connections", integer(func(c *config) *int { return &c.DBMaxConns })},
	{"KPORTAL_REDIS_ADDR", "127.0.0.1:6379", "Redis for jobs (asynq)", str(func(c *config) *string { return &c.RedisAddr })},
	{"KPORTAL_REDIS_PASSWORD", "", "Redis password", str(func(c *config) *string { return &c.RedisPassword })},
	{"KPORTAL_REDIS_DB", "0", "Redis database number", integer(func(c *config) *int { return &c.RedisDB })},
	{"KPORTAL_S3_ENDPOINT", "127.0.0.1:9000", "S3/MinIO endpoint host:port", str(func(c *config) *string { return &c.S3Endpoint })},
	{"KPORTAL_S3_ACCESS_KEY", "kportal", "S3 access key", str(func(c *config) *string { return &c.S3AccessKey })},
	{"KPORTAL_S3_SECRET_KEY", "kportal-secret", "S3 secret key", str(func(c *config) *string { return &c.S3SecretKey })},
	{"KPORTAL_S3_BUCKET", "kportal", "bucket for documents (created at start if missing)", str(func(c *config) *string { return &c.S3Bucket })},
	{"KPORTAL_S3_SECURE", "false", "use HTTPS to reach S3", boolean(func(c *config) *bool { return &c.S3Secure })},
	{"KPORTAL_KRATOS_PUBLIC_URL", "http://127.0.0.1:4433", "Ory Kratos public API", str(func(c *config) *string { return &c.KratosPublic })},
	{"KPORTAL_KRATOS_ADMIN_URL", "http://127.0.0.1:4434", "Ory Kratos admin API", str(func(c *config) *string { return &c.KratosAdmin })},
	{"KPORTAL_SMTP_URL", "smtp://127.0.0.1:1025/?disable_starttls=true", "SMTP server: " + workers.MailURLForms, str(func(c *config) *string { return &c.SMTPURL })},
	{"KPORTAL_SMTP_CA_FILE", "", "PEM file of the CA that signed the SMTP server's certificate (a private relay); empty: the system's CAs", str(func(c *config) *string { return &c.SMTPCAFile })},
	{"KPORTAL_MAIL_FROM", "kportal <ikke-svar@kportal.localhost>", "sender of kportal's e-mail", str(func(c *config) *string { return &c.MailFrom })},
	{"KPORTAL_LOG_LEVEL", "info", "debug, info, warn or error", str(func(c *config) *string { return &c.LogLevel })},
	{"KPORTAL_SESSION_CACHE", "30s", "how long a checked Kratos session is trusted without asking again", duration(func(c *config) *time.Duration { return &c.SessionCache })},
	{"KPORTAL_WORKER_CONCURRENCY", "10", "jobs the worker runs at once", integer(func(c *config) *int { return &c.Concurrency })},
	{"KPORTAL_SHUTDOWN_PERIOD", "20s", "how long shutdown waits for requests and jobs to finish", duration(func(c *config) *time.Duration { return &c.ShutdownPeriod })},
	{"KPORTAL_TRUSTED_PROXIES", "", "load balancers (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names the client; empty: the direct peer is the client", proxies},
	{"KPORTAL_LIMIT_SIGNIN", "10/15m", "sign-in, registration and recovery submissions per e-mail address (N/period, or off)", limit(ratelimit.SignIn)},
	{"KPORTAL_LIMIT_CODE", "5/1h", "e-mails with a sign-in, recovery or verification code per e-mail address", limit(ratelimit.Code)},
	{"KPORTAL_LIMIT_ADDRESS", "1000/15m", "sign-in page submissions per client address (generous: a health region may reach the internet through one address)", limit(ratelimit.Address)},
	{"KPORTAL_LIMIT_MAIL", "30/1h", "e-mails a signed-in person has kportal send (invitations, resends, test e-mail)", limit(ratelimit.Mail)},
	{"KPORTAL_LIMIT_APIKEY", "600/1m", "requests to /api/v1 per API key", limit(ratelimit.APIKey)},
	{"KPORTAL_LIMIT_VERIFY", "60/15m", "look-ups on the public verification page (/verifiser) per client address", limit(ratelimit.Verify)},
}

// loadConfig reads the environment; a bad value is one clear error.
func loadConfig() (*config, error) {
	c := &config{}
	for _, s := range settings {
		v, ok := os.LookupEnv(s.env)
		if !ok {
			v = s.def
		}
		if err := s.set(c, strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("%s: %v", s.env, err)
		}
	}
	switch c.Env {
	case "development", "staging", "production":
	default:
		return nil, fmt.Errorf("KPORTAL_ENV: must be development, staging or production, not %q", c.Env)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("KPORTAL_BASE_URL: must be an http:// or https:// URL like https://kportal.example.no, not %q", c.BaseURL)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("KPORTAL_LOG_LEVEL: must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return c, nil
}

// HTTPS reports whether the site is served over HTTPS (TLS may end at a
// load balancer in front): its cookies are then Secure and HSTS is sent.
func (c *config) HTTPS() bool { return strings.HasPrefix(strings.ToLower(c.BaseURL), "https://") }

// envHelp lists the environment variables, for --help.
func envHelp() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Environment (default in brackets):")
	for _, s := range settings {
		fmt.Fprintf(w, "  %s\t%s [%s]\n", s.env, s.help, s.def)
	}
	w.Flush()
	return b.String()
}
