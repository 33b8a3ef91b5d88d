package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium starts headless Chromium for a browser test (Debian's chromium;
// `make services` installs it).
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("KPORTAL_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("Chromium not found at %s (make services installs it): %v", path, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844), // a phone: LIS use kportal between patients
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// Start the browser on the untimed context (a timeout there would stop the
	// browser), then bound the test's steps.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return tctx
}

// screenshot saves the page for a person to look at when a test fails.
func screenshot(t *testing.T, ctx context.Context, name string) {
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		dir := filepath.Join(os.TempDir(), "kportal-screenshots")
		_ = os.MkdirAll(dir, 0o755)
		p := filepath.Join(dir, name+".png")
		_ = os.WriteFile(p, png, 0o644)
		t.Logf("screenshot: %s", p)
	}
}

// A person logs in through kportal's own login page in a real browser and
// sees the home page with their name.
func TestBrowserLogin(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Berit")
	ctx := chromium(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"] input[name="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`form[data-group="password"] button[value="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-name"]`)),
	)
	var heading, user string
	if err == nil {
		heading, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`h1`)))
	}
	if err == nil {
		user, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="user-name"]`)))
	}
	if err != nil || heading != "Hei, Berit" || !strings.Contains(user, "Berit Testesen") {
		screenshot(t, ctx, "browser-login")
		t.Fatalf("after login: heading %q, user %q, err %v", heading, user, err)
	}
	screenshot(t, ctx, "browser-home")
}
