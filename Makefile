# tinyfc Makefile. `make test` is what CI runs.
CARGO ?= cargo

.PHONY: build test run serve lint

build:
	$(CARGO) build --all-targets

# With the optional features, so the typed-JSON and trigger-event tests run (tests/json.rs and
# the events unit tests); the default build is covered by `static` and `lint`.
test: static
	$(CARGO) test --features json,events

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features json,events -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -q

# --- tinyfc-local (issue 3) ---

# Where cargo puts debug builds (honours CARGO_TARGET_DIR).
LOCAL_BIN ?= $(or $(CARGO_TARGET_DIR),target)/debug
# Extra tinyfc-local options, e.g. `make serve LOCAL_ARGS="--listen 127.0.0.1:9001 --idle-stop 60"`.
LOCAL_ARGS ?=

# The hello example under the local platform: start, initialize, one invocation, pre-stop, stop.
run:
	$(CARGO) build --example hello --bin tinyfc-local
	$(LOCAL_BIN)/tinyfc-local --once $(LOCAL_ARGS) -- $(LOCAL_BIN)/examples/hello

# The hello example behind the local front door on 127.0.0.1:8000 until Ctrl-C.
serve:
	$(CARGO) build --example hello --bin tinyfc-local
	$(LOCAL_BIN)/tinyfc-local --listen 127.0.0.1:8000 $(LOCAL_ARGS) -- $(LOCAL_BIN)/examples/hello

# --- packaging: static, zip, image, size (issue 4) ---

# Static release binaries: x86_64-unknown-linux-musl when its std is installed, else a glibc build
# with +crt-static (said when it happens). FUNCTION is the binary that zip and image package.
MUSL_LIBDIR := $(shell rustc --print target-libdir --target x86_64-unknown-linux-musl 2>/dev/null)
STATIC_TARGET := $(if $(wildcard $(MUSL_LIBDIR)/libstd-*),x86_64-unknown-linux-musl,x86_64-unknown-linux-gnu)
STATIC_RUSTFLAGS := $(if $(filter %gnu,$(STATIC_TARGET)),-C target-feature=+crt-static,)
STATIC_DIR := target/$(STATIC_TARGET)/release
FUNCTION ?= $(STATIC_DIR)/examples/hello
IMAGE_NAME ?= tinyfc-hello:latest
# hello may be at most this many percent of the floor's size (now 140%).
SIZE_BUDGET ?= 150

.PHONY: static zip image size
static:
	@$(if $(STATIC_RUSTFLAGS),echo "static: musl target not installed; building glibc with +crt-static instead",echo "static: $(STATIC_TARGET)")
	RUSTFLAGS="$(STATIC_RUSTFLAGS)" $(CARGO) build --release --target $(STATIC_TARGET) --examples --bins
	@echo "static binaries in $(STATIC_DIR) and $(STATIC_DIR)/examples"

zip: static
	@mkdir -p dist
	$(CARGO) run -q --release --bin tinyfc-pack -- zip $(FUNCTION) dist/function.zip

image: static
	@mkdir -p dist
	$(CARGO) run -q --release --bin tinyfc-pack -- image $(FUNCTION) dist/image.tar --name $(IMAGE_NAME)

size: static
	@printf '%-28s %10s\n' binary bytes
	@for f in $(STATIC_DIR)/examples/floor $(STATIC_DIR)/examples/hello $(STATIC_DIR)/examples/probe $(STATIC_DIR)/tinyfc-local $(STATIC_DIR)/tinyfc-pack; do \
	  printf '%-28s %10s\n' $$(basename $$f) $$(stat -c %s $$f); done
	@ratio=$$(( $$(stat -c %s $(STATIC_DIR)/examples/hello) * 100 / $$(stat -c %s $(STATIC_DIR)/examples/floor) )); \
	  echo "hello / floor: $$ratio% (budget $(SIZE_BUDGET)%)"; \
	  test $$ratio -le $(SIZE_BUDGET) || { echo "hello is over its size budget"; exit 1; }


# --- benchmarks (issue 5) ---

# Cold start (50 interleaved runs per target) and keep-alive throughput (16 and 256 connections) of
# the static release builds, with the floor and a tokio server beside hello. BENCH_ARGS adds options,
# e.g. BENCH_ARGS="--runs 200 --target mine=target/x86_64-unknown-linux-musl/release/my-func".
BENCH_ARGS ?=
.PHONY: bench
bench: static
	$(STATIC_DIR)/examples/bench --dir $(STATIC_DIR) --out bench-out $(BENCH_ARGS)

# --- link layout (issue 5) ---

# Regenerates src/start.ld, the code a cold start runs (linked first in the text): after changing
# tinyfc's start-up or request path, or updating Rust. Needs valgrind. Profiles hello and the floor
# built unstripped without the layout, with linker maps.
LAYOUT_DIR := target/layout
.PHONY: layout
layout:
	@rm -rf $(LAYOUT_DIR)/maps && mkdir -p $(LAYOUT_DIR)/maps
	TINYFC_NO_COLD_LAYOUT=1 CARGO_TARGET_DIR=$(LAYOUT_DIR) CARGO_PROFILE_RELEASE_STRIP=false \
	  RUSTFLAGS="-C link-arg=-Wl,-Map=$(CURDIR)/$(LAYOUT_DIR)/maps/" \
	  $(CARGO) build --release --target x86_64-unknown-linux-musl --example hello --example floor
	$(CARGO) run -q --release --example bench -- layout src/start.ld \
	  $(LAYOUT_DIR)/x86_64-unknown-linux-musl/release/examples/hello $(LAYOUT_DIR)/maps/hello-*.map \
	  $(LAYOUT_DIR)/x86_64-unknown-linux-musl/release/examples/floor $(LAYOUT_DIR)/maps/floor-*.map

# --- hardening: fuzz, soak (issue 6) ---

# 60 s (SOAK_SECS) of mixed load against the release probe; RSS and threads must end near their start.
SOAK_SECS ?= 60
.PHONY: soak
soak:
	SOAK_SECS=$(SOAK_SECS) $(CARGO) test --release --test adversarial soak -- --ignored --nocapture

# The stable fuzz test over the request parser and body decoder, for FUZZ_SECS seconds.
FUZZ_SECS ?= 60
.PHONY: fuzz
fuzz:
	TINYFC_FUZZ_SECS=$(FUZZ_SECS) $(CARGO) test --release --lib fuzz -- --nocapture
