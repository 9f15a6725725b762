# tinyfc Makefile. `make test` is what CI runs.
CARGO ?= cargo

.PHONY: build test run serve lint

build:
	$(CARGO) build --all-targets

test:
	$(CARGO) test

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# --- tinyfc-local (issue 3) ---

# The hello example under the local platform: start, initialize, one invocation, pre-stop, stop.
run:
	$(CARGO) build --example hello --bin tinyfc-local
	./target/debug/tinyfc-local --once -- ./target/debug/examples/hello

# The hello example behind the local front door on 127.0.0.1:8000 until Ctrl-C.
serve:
	$(CARGO) build --example hello --bin tinyfc-local
	./target/debug/tinyfc-local --listen 127.0.0.1:8000 -- ./target/debug/examples/hello

# --- packaging: static, zip, image, size (issue 4) ---

# --- benchmarks (issue 5) ---

# --- hardening: fuzz, soak (issue 6) ---

# The stable fuzz test over the request parser and body decoder, for FUZZ_SECS seconds.
FUZZ_SECS ?= 60
.PHONY: fuzz
fuzz:
	TINYFC_FUZZ_SECS=$(FUZZ_SECS) $(CARGO) test --release --lib fuzz -- --nocapture
