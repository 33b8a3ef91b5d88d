# kportal: two commands do everything.
#   make dev   services up, migrate, seed the demo, run server + worker + scheduler
#   make test  services up, then every test
SHELL := /bin/bash
BIN := .dev/bin/kportal
# -race: a data race fails the run. The timeout is per package; the slowest,
# cmd/kportal, takes about 5 minutes with -race (README, Tests).
GO_TEST_FLAGS ?= -race -count=1 -timeout 60m

.PHONY: dev test services down status build vet vendor

dev: services build
	@$(BIN) migrate up
	@echo
	@$(BIN) seed
	@echo
	@echo "kportal runs at http://localhost:8080  (e-mail inbox: http://127.0.0.1:1080, MinIO console: http://127.0.0.1:9001)"
	@echo "Stop with Ctrl-C; 'make down' stops the services."
	@echo
	@exec $(BIN) all

test: services vet
	go test $(GO_TEST_FLAGS) ./...

services:
	@deploy/dev up

down:
	@deploy/dev down

status:
	@deploy/dev status

build:
	@mkdir -p .dev/bin
	go build -o $(BIN) ./cmd/kportal

vet:
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Refresh the vendored front-end assets from npm (versions in modules/web/assets/vendor/VERSIONS).
vendor:
	@tmp=$$(mktemp -d) && cd $$tmp && \
	npm pack --silent @digdir/designsystemet-css@1.22.0 htmx.org@2.0.11 >/dev/null && \
	for f in *.tgz; do mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done && \
	cd - >/dev/null && v=modules/web/assets/vendor && \
	cp $$tmp/digdir-designsystemet-css-1.22.0/package/dist/src/index.css $$v/designsystemet.css && \
	cp $$tmp/digdir-designsystemet-css-1.22.0/package/dist/theme/designsystemet.css $$v/designsystemet-theme.css && \
	cp $$tmp/htmx.org-2.0.11/package/dist/htmx.min.js $$v/htmx.min.js && rm -rf $$tmp && echo "vendored assets refreshed"
