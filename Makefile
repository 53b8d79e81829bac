# coffer: the two commands a user needs are `make demo` and `make test`.
# Both install missing Debian packages (as root) and build first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
# tests that also run under ThreadSanitizer
TSAN_TESTS  = tests/test_lib_stress tests/test_dmu tests/test_crypto_aead \
              tests/test_crypto_kdf tests/test_spa_pause tests/test_send_sign \
              tests/test_lib_sign
PREFIX     ?= /usr/local
MESON_OPTS ?=

.PHONY: all deps build install demo test test-fast test-asan torture fuzz bench clean

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/build.ninja:
	@sh scripts/deps.sh
	meson setup $(BUILD) --prefix=$(PREFIX) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

install: build
	meson install -C $(BUILD)

demo: build
	@sh scripts/demo.sh $(BUILD)/coffer

$(ASAN_BUILD)/build.ninja:
	@sh scripts/deps.sh
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug $(MESON_OPTS)

$(TSAN_BUILD)/build.ninja:
	@sh scripts/deps.sh
	meson setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false \
		-Dbuildtype=debugoptimized $(MESON_OPTS)

# The whole suite: unit, fuzz-corpus replay and integration tests, then
# the same again under AddressSanitizer + UBSan, and the multi-threaded
# tests under ThreadSanitizer.
test: deps $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja $(TSAN_BUILD)/build.ninja
	ninja -C $(BUILD)
	ninja -C $(ASAN_BUILD)
	ninja -C $(TSAN_BUILD) $(TSAN_TESTS)
	@TSAN_BUILD=$(TSAN_BUILD) TSAN_TESTS="$(TSAN_TESTS)" \
		sh scripts/test.sh $(BUILD) $(ASAN_BUILD)

# Only the normal build (quicker while developing).
test-fast: $(BUILD)/build.ninja
	ninja -C $(BUILD)
	@sh scripts/test.sh $(BUILD)

torture: build
	@sh tests/torture/run.sh $(BUILD) $${TORTURE_ITERS:-200}

fuzz:
	@sh scripts/fuzz.sh $${FUZZ_SECONDS:-600}

bench: build
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
