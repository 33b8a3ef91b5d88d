package testenv

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// SessionToken signs a person in through Kratos' native flow, as an API
// client would, and returns the session token.
func SessionToken(t testing.TB, email, password string) string {
	t.Helper()
	resp, err := http.Get(KratosPublic + "/self-service/login/api")
	if err != nil {
		t.Fatal(err)
	}
	var flow struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&flow)
	resp.Body.Close()
	body, _ := json.Marshal(map[string]string{"method": "password", "identifier": email, "password": password})
	resp, err = http.Post(KratosPublic+"/self-service/login?flow="+flow.ID, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"session_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("native login of %s: HTTP %d %v", email, resp.StatusCode, err)
	}
	return out.Token
}
