package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"kportal/modules/api"
)

// Every /api/v1 route of the real app is in the OpenAPI document with its
// method, and every operation in the document is a route.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	w := newMatrixWorld(t, true)
	var doc struct {
		Servers []struct{ URL string }
		Paths   map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(api.OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != api.Prefix {
		t.Fatalf("servers %+v, want one at %s", doc.Servers, api.Prefix)
	}
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			// {hpr} in the document is :hpr in echo.
			segs := strings.Split(api.Prefix+path, "/")
			for i, s := range segs {
				if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
					segs[i] = ":" + s[1:len(s)-1]
				}
			}
			inDoc[strings.ToUpper(method)+" "+strings.Join(segs, "/")] = true
		}
	}
	routes := map[string]bool{}
	for _, r := range w.app.host.Routes() {
		if strings.HasPrefix(r.Path, api.Prefix+"/") {
			routes[r.Method+" "+r.Path] = true
		}
	}
	if len(routes) < 3 {
		t.Fatalf("only %d /api/v1 routes found: %v", len(routes), routes)
	}
	var missing, extra []string
	for r := range routes {
		if !inDoc[r] {
			missing = append(missing, r)
		}
	}
	for d := range inDoc {
		if !routes[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, r := range missing {
		t.Errorf("route %s is not in the OpenAPI document", r)
	}
	for _, d := range extra {
		t.Errorf("the OpenAPI document has %s, which is no route", d)
	}

	// The document is served, publicly, as it is embedded.
	resp, err := http.Get(w.srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK { // the probe app answers 204
		t.Errorf("GET /api/v1/openapi.json: %d", resp.StatusCode)
	}
}

// The document is valid OpenAPI 3.1 by kin-openapi's validator, and the
// served copy is the document.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	if doc.Components.SecuritySchemes["apiKey"] == nil || doc.Components.Schemas["Error"] == nil {
		t.Fatal("no bearer security scheme or no error schema")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if path != "/openapi.json" && (op.Responses.Value("401") == nil || op.Responses.Value("429") == nil) {
				t.Errorf("%s %s documents no 401 or 429", method, path)
			}
		}
	}

	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	status, h, body := apiCall(t, srv.URL, "/api/v1/openapi.json", "")
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || string(body) != string(api.OpenAPIDocument()) {
		t.Fatalf("served document: %d %s", status, h.Get("Content-Type"))
	}
}
