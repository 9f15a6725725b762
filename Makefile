# tinyfc Makefile. `make test` is what CI runs; `make run` is the quick start.
CARGO ?= cargo

.PHONY: build test run serve lint

# The tools: `cargo tinyfc COMMAND` (tools/cargo-tinyfc), run without installing it.
TINYFC ?= $(CARGO) run -q -p cargo-tinyfc --

build:
	$(CARGO) build --workspace --all-targets

# Every package's tests: the runtime's and the tools', with the runtime's optional features on
# (typed JSON, trigger events, WebSocket: tests/json.rs, tests/websocket.rs, the events unit tests,
# the tools' local_websocket.rs).
FEATURES ?= --features tinyfc/json,tinyfc/events,tinyfc/websocket,cargo-tinyfc/websocket
test: static
	$(CARGO) test --workspace $(FEATURES)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps -q $(FEATURES)

# --- the local platform: cargo tinyfc local (docs/local.md) ---

# Where cargo puts debug builds (honours CARGO_TARGET_DIR).
LOCAL_BIN ?= $(or $(CARGO_TARGET_DIR),target)/debug
# Extra `cargo tinyfc local` options, e.g. `make serve LOCAL_ARGS="--listen 127.0.0.1:9001 --idle-stop 60"`.
LOCAL_ARGS ?=

# The hello example under the local platform: start, initialize, one invocation, pre-stop, stop.
# The builds show cargo's progress: a first run compiles the tools too (about a minute).
run:
	@echo "building examples/hello and cargo-tinyfc (the first run compiles their dependencies)..."
	$(CARGO) build --example hello
	$(CARGO) build -p cargo-tinyfc
	$(TINYFC) local --once $(LOCAL_ARGS) -- $(LOCAL_BIN)/examples/hello

# The hello example behind the local front door on 127.0.0.1:8000 until Ctrl-C.
serve:
	@echo "building examples/hello and cargo-tinyfc..."
	$(CARGO) build --example hello
	$(CARGO) build -p cargo-tinyfc
	$(TINYFC) local --listen 127.0.0.1:8000 $(LOCAL_ARGS) -- $(LOCAL_BIN)/examples/hello

# --- shipping: static, zip, image, size (cargo tinyfc build/zip/image) ---

# Static release builds of the examples: x86_64-unknown-linux-musl when its std is installed, else
# glibc with +crt-static (`cargo tinyfc build` says so). FUNCTION is the binary zip and image package.
MUSL_LIBDIR := $(shell rustc --print target-libdir --target x86_64-unknown-linux-musl 2>/dev/null)
STATIC_TARGET := $(if $(wildcard $(MUSL_LIBDIR)/libstd-*),x86_64-unknown-linux-musl,x86_64-unknown-linux-gnu)
STATIC_DIR := $(or $(CARGO_TARGET_DIR),target)/$(STATIC_TARGET)/release
FUNCTION ?= $(STATIC_DIR)/examples/hello
IMAGE_NAME ?= tinyfc-hello:latest
# hello may be at most this many percent of the floor's size (now 150.997%; 148% at opt-level "z",
# which costs hello 30% more instructions per request: docs/architecture.md, "The release profile").
SIZE_BUDGET ?= 152
# hello's relocated data (GNU_RELRO) may be at most this many bytes on musl: the loader writes
# every page of it in every instance (RssAnon), and a fourth page costs 4 kB (now 12,240 bytes).
RELRO_BUDGET ?= 12288

.PHONY: static zip image size
static:
	$(TINYFC) build -p tinyfc --examples >/dev/null
	@echo "static binaries in $(STATIC_DIR)/examples"

zip: static
	@mkdir -p dist
	$(TINYFC) zip $(FUNCTION) dist/function.zip

image: static
	@mkdir -p dist
	$(TINYFC) image $(FUNCTION) dist/image.tar --name $(IMAGE_NAME)

size: static
	@printf '%-28s %10s\n' binary bytes
	@for f in $(STATIC_DIR)/examples/floor $(STATIC_DIR)/examples/hello $(STATIC_DIR)/examples/probe; do \
	  printf '%-28s %10s\n' $$(basename $$f) $$(stat -c %s $$f); done
	@ratio=$$(( $$(stat -c %s $(STATIC_DIR)/examples/hello) * 100 / $$(stat -c %s $(STATIC_DIR)/examples/floor) )); \
	  echo "hello / floor: $$ratio% (budget $(SIZE_BUDGET)%)"; \
	  test $$ratio -le $(SIZE_BUDGET) || { echo "hello is over its size budget"; exit 1; }
	@relro=$$(readelf -lW $(STATIC_DIR)/examples/hello | awk '$$1 == "GNU_RELRO" { print $$6 }'); \
	  echo "hello's relocated data (GNU_RELRO): $$((relro)) bytes (budget $(RELRO_BUDGET) on musl)"; \
	  test $(STATIC_TARGET) != x86_64-unknown-linux-musl || test $$((relro)) -le $(RELRO_BUDGET) \
	    || { echo "hello's relocated data is over its budget: docs/architecture.md, decisions"; exit 1; }


# --- benchmarks: cargo tinyfc bench ---

# Cold start (50 interleaved runs per target), keep-alive throughput (16 and 256 connections, in
# three settings: shared CPUs, the server pinned to CPU 0 and the client to CPU 1, the server in a
# half-CPU cgroup quota; the client is our own one-thread epoll loop) and a blocking handler
# (10 ms sleep, 64 connections: ratio to the ideal 6,400 req/s) of the static release builds, with
# the floor beside hello and a function built as users build one (user_fn, below). The benchmark
# itself is a release build (its client must not be the bottleneck). BENCH_ARGS adds options, e.g.
# BENCH_ARGS="--runs 200 --target mine=target/x86_64-unknown-linux-musl/release/my-func".
BENCH_ARGS ?=
# One more target, a function built the way users build theirs: the crate `cargo tinyfc new NAME
# --event` makes (tinyfc vendored from this checkout), built static from its own directory under
# BENCH_USER_DIR (its build kept in BENCH_USER_DIR/target between runs). `make bench BENCH_USER=`
# leaves it out.
BENCH_USER ?= user_fn
BENCH_USER_DIR ?= $(abspath $(or $(CARGO_TARGET_DIR),target))/bench-user
TINYFC_BIN := $(abspath $(or $(CARGO_TARGET_DIR),target))/debug/cargo-tinyfc
.PHONY: bench
bench: static
	@set -e; user=""; if [ -n "$(BENCH_USER)" ]; then \
	  echo "building $(BENCH_USER), a function crate of its own, in $(BENCH_USER_DIR)..."; \
	  $(CARGO) build -q -p cargo-tinyfc; \
	  rm -rf $(BENCH_USER_DIR)/$(BENCH_USER); mkdir -p $(BENCH_USER_DIR); \
	  (cd $(BENCH_USER_DIR) && $(TINYFC_BIN) tinyfc new $(BENCH_USER) --event --tinyfc-path $(CURDIR) >/dev/null); \
	  bin=$$(cd $(BENCH_USER_DIR)/$(BENCH_USER) && CARGO_TARGET_DIR=$(BENCH_USER_DIR)/target $(TINYFC_BIN) tinyfc build); \
	  user="--target $(BENCH_USER)=$$bin"; fi; \
	$(CARGO) run -q --release -p cargo-tinyfc -- bench --dir $(STATIC_DIR) --out bench-out $$user $(BENCH_ARGS)

# --- hardening: fuzz, soak (issue 6) ---

# 60 s (SOAK_SECS) of mixed load against the release probe; RSS and threads must end near their start.
SOAK_SECS ?= 60
.PHONY: soak
soak:
	SOAK_SECS=$(SOAK_SECS) $(CARGO) test --release -p tinyfc --test adversarial soak -- --ignored --nocapture

# The stable fuzz tests (tests/fuzz.rs: requests to the release probe, responses to the client,
# chunked round trips), each for FUZZ_SECS seconds.
FUZZ_SECS ?= 60
.PHONY: fuzz
fuzz:
	TINYFC_FUZZ_SECS=$(FUZZ_SECS) $(CARGO) test --release -p tinyfc --test fuzz -- --nocapture
