# `make test` is the one test command: CI (.ci/run) runs exactly this.
GO ?= go

.PHONY: test deps check vet lint fmt build demo bench fuzz

test: deps check
	$(GO) test -race -shuffle=on -timeout 20m ./...
	@# Benchmarks are not timed in CI; running each once keeps them working.
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./...

deps:
	./scripts/install-test-deps.sh

check: fmt vet lint

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# staticcheck with every check on (staticcheck.conf); pinned so that a new
# release's new checks arrive in a commit of their own, not in a CI run.
lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

build:
	$(GO) build -o bin/awning ./cmd/awning

demo:
	$(GO) run ./cmd/awning demo

# Go micro-benchmarks with allocation counts. Load runs against nginx and
# friends live in bench/.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

fuzz:
	$(GO) test ./config -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s
	$(GO) test ./config -run '^$$' -fuzz FuzzParseSite -fuzztime 60s
	$(GO) test ./sites -run '^$$' -fuzz FuzzCanonical -fuzztime 60s
	$(GO) test ./proxy -run '^$$' -fuzz FuzzGuardConn -fuzztime 60s
	$(GO) test ./proxy -run '^$$' -fuzz FuzzResponseFraming -fuzztime 60s
	$(GO) test ./proxy -run '^$$' -fuzz FuzzOriginAnswer -fuzztime 60s
	$(GO) test ./internal/gunzip -run '^$$' -fuzz FuzzGunzip -fuzztime 60s
	$(GO) test ./pages -run '^$$' -fuzz FuzzAcceptLanguage -fuzztime 60s
	$(GO) test ./pages -run '^$$' -fuzz FuzzLogo -fuzztime 60s
	$(GO) test ./fallback/cache -run '^$$' -fuzz FuzzKeyBuild -fuzztime 60s
	$(GO) test ./fallback/cache -run '^$$' -fuzz FuzzDecodeEntry -fuzztime 60s
	$(GO) test ./admin -run '^$$' -fuzz FuzzMaintenanceBody -fuzztime 60s
	$(GO) test ./admin -run '^$$' -fuzz FuzzMutatingRoutes -fuzztime 60s
	$(GO) test ./admin -run '^$$' -fuzz FuzzStrictJSON -fuzztime 60s
