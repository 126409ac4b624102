# KiwiStack endpoint suite: the front door. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO       ?= go
BIN      := bin
CMDS     := kiwistack-enroll kiwistack-agent kiwistack-api
PKG      := github.com/kiwistack/endpoint
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE     ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BASE_LDFLAGS := -s -w -X $(PKG)/version.Version=$(VERSION) -X $(PKG)/version.Commit=$(COMMIT) -X $(PKG)/version.Date=$(DATE)
# RELEASE_PUB, the release public key (minisign base64), is set by `make
# packages` only: the enroller it builds installs agent packages signed by
# that key and no other; a plain `make build` trusts none (docs/packages.md).
LDFLAGS   = $(BASE_LDFLAGS)$(if $(RELEASE_PUB), -X $(PKG)/enroll/agentpkg.ReleaseKey=$(RELEASE_PUB))
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
# Tests that need root, pcscd or namespaces fail instead of skipping when this is set.
export KIWISTACK_REQUIRE_HW_TESTS ?= 1

.PHONY: help build test test-deps test-nocgo cross lint fmt demo clean bench packages packages-unsigned test-packages

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the three binaries into bin/
	@scripts/install-test-deps --build
	@mkdir -p $(BIN)
	@# Only the enroller needs cgo (piv-go over libpcsclite); the agent and the API
	@# are static, which also saves the dispatcher ~1.7 ms of dynamic loading per URL.
	@for c in $(CMDS); do cgo=0; [ $$c = kiwistack-enroll ] && cgo=1; \
	  CGO_ENABLED=$$cgo $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$$c ./cmd/$$c; done
	@echo "built $(CMDS) $(VERSION) into $(BIN)/"

test-deps: ## install the Debian packages and Go tools the tests need
	@scripts/install-test-deps

test: test-deps test-nocgo ## install what tests need, then run every test
	scripts/start-pcscd
	$(GO) test -count=1 -timeout 20m ./...

test-nocgo: test-deps ## run the PC/SC tests with CGO_ENABLED=0: piv-go through the purego overlay
	scripts/start-pcscd
	CGO_ENABLED=0 $(GO) test -count=1 -overlay "$$(scripts/pcsc-overlay)" ./platform/pcsc/...

bench: ## run the benchmarks that docs/BENCHMARKS.md reports, summarised by benchstat
	scripts/start-pcscd
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt
	$(GO) tool benchstat bench.txt

cross: ## build and vet every binary for linux, darwin and windows on amd64 and arm64
	scripts/cross $(PLATFORMS)

lint: ## gofmt check, go vet, staticcheck
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

demo: build ## a virtual YubiKey provisioned and listed, step by step
	scripts/demo

packages: ## build dist/*.deb (amd64, arm64), dist/*.msi (amd64), a universal dist/*.pkg, SHA256SUMS and a .minisig for each
	@# The signing key: the minisign secret key file in $$KIWISTACK_RELEASE_KEY
	@# (password in $$KIWISTACK_RELEASE_KEY_PASSWORD if encrypted), or else a
	@# development key kept in $(BIN)/release-dev/. Its public key goes into
	@# every kiwistack-enroll built below (docs/packages.md).
	@# dist/ holds one commit's packages: what an earlier build left is removed.
	rm -rf dist
	$(GO) run ./packaging/cmd/mksign -key "$${KIWISTACK_RELEASE_KEY:-}" -dev-dir $(BIN)/release-dev -pub $(BIN)/release.pub
	@$(MAKE) --no-print-directory packages-unsigned RELEASE_PUB="$$(cat $(BIN)/release.pub)"
	$(GO) run ./packaging/cmd/mksign -key "$${KIWISTACK_RELEASE_KEY:-}" -dev-dir $(BIN)/release-dev -sign dist

test-packages: test-deps packages ## build the packages, then check dist/ with lintian, msiinfo, bsdtar/cpio, minisign and sha256sum
	scripts/test-packages

packages-unsigned: build
	@# amd64 packages the binaries of `make build`; arm64 is built here without
	@# cgo, piv-go through the purego overlay as in scripts/cross.
	@mkdir -p $(BIN)/linux-arm64 dist
	@overlay="$$(scripts/pcsc-overlay)"; for c in kiwistack-enroll kiwistack-agent; do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -overlay "$$overlay" -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/$$c ./cmd/$$c; done
	$(GO) run ./packaging/cmd/mkdeb -describe '$(VERSION)' -commit-time "$$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
	  -out dist amd64=$(BIN) arm64=$(BIN)/linux-arm64
	@# The .msi: windows/amd64 only (wixl cannot target arm64), signed with the
	@# certificate in KIWISTACK_MSI_SIGN_CERT/KEY or else a generated test one
	@# (docs/packages-windows.md).
	@scripts/install-test-deps --packages
	@mkdir -p $(BIN)/windows-amd64
	@overlay="$$(scripts/pcsc-overlay)"; for c in kiwistack-enroll kiwistack-agent; do \
	  GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -overlay "$$overlay" -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/windows-amd64/$$c.exe ./cmd/$$c; done
	$(GO) run ./packaging/cmd/mkmsi -version '$(VERSION)' -commit-time "$$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
	  -arch amd64 -out dist -enroll $(BIN)/windows-amd64/kiwistack-enroll.exe -agent $(BIN)/windows-amd64/kiwistack-agent.exe
	@# The .pkg: darwin amd64 and arm64 without cgo, joined into universal
	@# binaries by mkpkg; unsigned (docs/packages-macos.md).
	@overlay="$$(scripts/pcsc-overlay)"; for a in amd64 arm64; do mkdir -p $(BIN)/darwin-$$a; for c in kiwistack-enroll kiwistack-agent; do \
	  GOOS=darwin GOARCH=$$a CGO_ENABLED=0 $(GO) build -overlay "$$overlay" -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/darwin-$$a/$$c ./cmd/$$c; done; done
	$(GO) run ./packaging/cmd/mkpkg -describe '$(VERSION)' -commit-time "$$(git log -1 --format=%ct 2>/dev/null || echo 0)" -out dist \
	  -enroll $(BIN)/darwin-amd64/kiwistack-enroll,$(BIN)/darwin-arm64/kiwistack-enroll \
	  -agent $(BIN)/darwin-amd64/kiwistack-agent,$(BIN)/darwin-arm64/kiwistack-agent

clean: ## remove build output
	rm -rf $(BIN) dist
