GO      ?= go
BIN     ?= bin
PKGS    := ./...
FUZZTIME ?= 10s

.PHONY: build test vet fmt-check fuzz fuzz-smoke clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

test: fmt-check vet
	$(GO) test -race -count=1 $(PKGS)
	$(MAKE) fuzz-smoke FUZZTIME=3s

# fuzz-smoke runs every fuzz target briefly; fuzz runs them longer.
fuzz-smoke:
	@GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME)

fuzz:
	@GO=$(GO) ./scripts/fuzz.sh $(if $(filter 10s,$(FUZZTIME)),2m,$(FUZZTIME))

clean:
	rm -rf $(BIN)
