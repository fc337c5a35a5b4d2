GO        ?= go
BIN       ?= bin
PKGS      := ./...
FUZZTIME  ?= 10s
IMAGE_TAG ?= latest
CC        ?= cc
CFLAGS    ?= -O2 -Wall -Wextra

.PHONY: build build-go build-c test vet fmt-check fuzz fuzz-smoke bench bench-full bench-scheduling bench-floor bench-idle bench-pollers bench-latency costs report compare \
	wrk-check loadgen-vs-wrk repeatability bench-micro images compose-up compose-smoke compose-up-check swarm-smoke clean

# -buildvcs=auto: the binaries carry their commit (rows read it) even where
# GOFLAGS=-buildvcs=false is set in the environment.
build: build-go build-c

build-go:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o $(BIN)/ ./cmd/...

# build-c compiles the C programs with the system C compiler: the two
# reference servers without a runtime (backends/cthreads, backends/cepoll)
# and bench costs' thread measurements (runner/costs/threadcost). Without a
# compiler it says so in one line and builds nothing: bench reports those
# backends as not built, bench costs shows no C rows, and the conformance
# suite skips them.
CSHARED := backends/csrc/h1.c backends/csrc/cmd.c
CDEPS   := $(CSHARED) backends/csrc/h1.h backends/csrc/cmd.h
ifeq ($(shell command -v $(firstword $(CC)) 2>/dev/null),)
build-c:
	@echo "no C compiler ($(CC)): cepoll, cthreads and threadcost not built; apt-get install gcc"
else
build-c: $(BIN)/cthreads $(BIN)/cepoll $(BIN)/threadcost

$(BIN)/cthreads: backends/cthreads/cthreads.c $(CDEPS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -pthread -Ibackends/csrc -o $@ $< $(CSHARED)

$(BIN)/cepoll: backends/cepoll/cepoll.c $(CDEPS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -pthread -Ibackends/csrc -o $@ $< $(CSHARED)

$(BIN)/threadcost: runner/costs/threadcost/threadcost.c
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -pthread -o $@ $<
endif

# test is what CI runs: formatting, vet, the C programs (the conformance
# suite runs the servers from $(BIN)), race-enabled tests, a short fuzz smoke.
test: fmt-check vet build-c
	ASYNCBENCH_BIN=$(abspath $(BIN)) $(GO) test -race -count=1 $(PKGS)
	$(MAKE) --no-print-directory fuzz-smoke FUZZTIME=3s

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# fuzz-smoke runs every Fuzz target briefly; fuzz runs each for FUZZTIME (default 2m).
fuzz-smoke:
	@GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME)

fuzz:
	@GO=$(GO) ./scripts/fuzz.sh $(if $(filter 10s,$(FUZZTIME)),2m,$(FUZZTIME))

# bench runs the quick plan (stdlib, gnet and fasthttp over both protocols); results in results/runs/latest.
bench: build
	$(BIN)/bench run -plan quick

bench-full: build
	$(BIN)/bench run -plan full

# bench-scheduling: threads, goroutines or an event loop against handlers that
# wait, compute, a cheap/expensive mix and a new connection per request, the
# C references cthreads and cepoll included (about 32 minutes on 2 cores).
bench-scheduling: build
	$(BIN)/bench run -plan scheduling

# bench-floor: every HTTP backend at one equal offered load, requests per
# server CPU-second against cepoll's, the C epoll loop (about 6 minutes).
bench-floor: build
	$(BIN)/bench run -plan floor

# bench-idle: memory per idle connection, kernel included, for every HTTP
# backend from 1,000 to 19,000 connections (about 8 minutes on 2 cores).
bench-idle: build
	$(BIN)/bench run -plan idle

# bench-pollers: the Go event-loop libraries (gnet, nbio, netpoll) beside
# net/http at 64, 1,024 and 10,000 connections (about 7 minutes).
bench-pollers: build
	$(BIN)/bench run -plan pollers

# bench-latency: latency against offered load (10–90% of each backend's
# capacity) for every HTTP backend at 64 and 1,024 connections (about 8 minutes).
bench-latency: build
	$(BIN)/bench run -plan latency

# costs measures goroutine against OS thread costs (create, switch, memory) on this machine,
# with C threads (bin/threadcost) and perf bench sched pipe beside them when present.
costs: build
	$(BIN)/bench costs

.PHONY: calibrate publish

# calibrate runs the A-vs-A and A-vs-handicap plan: the instrument check.
calibrate: build
	$(BIN)/bench run -plan calibrate -quiet-wait 30s

# publish copies a run into results/published/NAME: make publish RUN=DIR NAME=name
publish: build
	$(BIN)/bench publish $(RUN) $(NAME)

report: build
	$(BIN)/bench report results/runs/latest

compare: build
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make compare A=RUN_DIR B=RUN_DIR"; exit 2; }
	$(BIN)/bench compare $(A) $(B)

# Outside references: wrk against every HTTP backend; loadgen's cost against wrk's.
wrk-check:
	./scripts/wrk-check.sh

loadgen-vs-wrk:
	./scripts/loadgen-vs-wrk.sh

# repeatability runs one cell 5 times and prints the coefficient of variation.
repeatability: build
	./scripts/repeatability.sh

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./backends/... ./loadgen/...

# images builds static binaries into bin/ and the FROM scratch images, and
# writes UID/GID (the owner of results/runs/) into .env for docker compose.
images:
	GO=$(GO) IMAGE_TAG=$(IMAGE_TAG) ./scripts/images.sh

# compose-up runs the quick plan in a container; results in results/runs/.
compose-up: images
	IMAGE_TAG=$(IMAGE_TAG) ./scripts/compose.sh up --exit-code-from bench bench

# compose-smoke: images, a tiny containerised plan, a 2-generator merge check.
compose-smoke:
	IMAGE_TAG=$(IMAGE_TAG) ./scripts/compose-smoke.sh

# swarm-smoke: bench swarm on a single-node swarm (turned on for the run
# only): one server, 3 generator replicas, merged requests = their sum.
swarm-smoke:
	./scripts/swarm-smoke.sh

# compose-up-check: `make images` then the literal `docker compose up` with a
# one-cell plan: files in results/runs/ owned by the caller, exit codes.
# As root, AS_USER=name repeats it as that user in a fresh clone.
compose-up-check:
	AS_USER=$(AS_USER) ./scripts/compose-up-check.sh

clean:
	rm -rf $(BIN)
