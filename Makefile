# hyperc — build, test, demo, bench.
#   make            library, CLI (build/hyperc) and test runner
#   make test       build and run every test
#   make asan       the tests again under AddressSanitizer + UBSan (build-asan/)
#   make demo       compress a real model and print the report (MODEL=path)
#   make bench      speed/size figures, measured in one run
#   make rd         rate-distortion curves of every codec on the shared models
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
WARN    := -Wall -Wextra -Wshadow -Werror
BASEFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -Iinclude -pthread -fno-strict-aliasing -DHC_STATIC_LINKING_ONLY
LDLIBS  := -lm -pthread
SHARED  ?= $(if $(HYPERC_SHARED),$(HYPERC_SHARED),../shared)
MODEL   ?= $(SHARED)/models/stories260K.safetensors

LIB_SRC   := $(sort $(wildcard src/*/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
TOOL_SRC  := $(sort $(wildcard tools/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/%.o)
HDRS      := $(wildcard include/*.h src/*/*.h tests/*.h tools/*.h)

.PHONY: all test asan demo bench rd clean
# the bench programs are built too, so a change that breaks one fails the build (they run only in make bench)
all: $(BUILD)/libhyperc.a $(BUILD)/hyperc $(BUILD)/run_tests $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libhyperc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hyperc: $(TOOL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libhyperc.a
	$(CC) $(BASEFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/libhyperc.a
	$(CC) $(BASEFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libhyperc.a
	$(CC) $(BASEFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

test: all
	HYPERC_BIN=$(BUILD)/hyperc $(BUILD)/run_tests $(T)

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

demo: $(BUILD)/hyperc
	@mkdir -p out
	$(BUILD)/hyperc compress $(MODEL) -o out/demo.hyc -f
	$(BUILD)/hyperc decompress out/demo.hyc -o out/demo.safetensors -f
	$(BUILD)/hyperc compare -q $(MODEL) out/demo.safetensors

bench: $(BUILD)/hyperc $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
	@for b in $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC)); do echo "== $$b"; HYPERC_SHARED=$(SHARED) $$b || exit 1; done
	@echo "== bench/quality.sh"; HYPERC_SHARED=$(SHARED) bench/quality.sh $(BUILD)

# hyperc against llama.cpp on the same weights, interleaved (bench/peer/bench_peer.py): builds
# llama.cpp outside the project when HYPERC_PEER_DIR (default ~/.cache/hyperc-anchors/llama.cpp)
# has none; GBs of model files in HYPERC_PEER_WORK (default ~/.cache/hyperc-anchors/work)
.PHONY: bench-peer
bench-peer: $(BUILD)/hyperc $(BUILD)/bench/bench_llm
	HYPERC_SHARED=$(SHARED) HYPERC_BIN=$${HYPERC_BIN:-$(abspath $(BUILD))/hyperc} \
	  HYPERC_BENCH_LLM=$${HYPERC_BENCH_LLM:-$(abspath $(BUILD))/bench/bench_llm} /usr/bin/python3 bench/peer/bench_peer.py

rd: $(BUILD)/hyperc
	@mkdir -p out
	$(BUILD)/hyperc rd --shared $(SHARED) -o out/rd.csv --png out/rd.png

# the hyperfunctions side by side and each engineering step (docs/ALGORITHM.md)
.PHONY: rd-ablation
rd-ablation: $(BUILD)/hyperc
	@mkdir -p out
	python3 bench/hyperfunctions.py --hyperc $(BUILD)/hyperc --shared $(SHARED) --csv out/rd-ablation.csv

clean:
	rm -rf build build-asan out

# ---- fuzzing (fuzz/README.md) ------------------------------------------------
#   make fuzz          every fuzz/fuzz_*.c under libFuzzer for FUZZ_TIME seconds each
#   make fuzz-replay   build every harness, replay its corpus, then fuzz
#                      FUZZ_REPLAY_TIME seconds each (CI: a regression fails)
#   make fuzz-gcc      replay builds (-DHC_FUZZ_MAIN, gcc + ASan/UBSan) run over
#                      the same corpora, for machines without libFuzzer
# Corpora: generated seeds ($(BUILD)/fuzz-seeds/<harness>, written by
# fuzz/make_seeds.c with the project's writers), fuzz/corpus/<harness>/ when
# present (committed seeds and crash regressions), and $(FUZZ_BUILD)/corpus/<harness>
# (what the fuzzer finds; not committed).
FUZZ_CC   ?= clang
FUZZ_GCC  ?= gcc
FUZZ_BUILD ?= build-fuzz
FUZZ_GCC_BUILD ?= build-fuzz-gcc
FUZZ_TIME ?= 60
FUZZ_REPLAY_TIME ?= 6
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRC:fuzz/%.c=%)
FUZZ_HDRS := $(HDRS) $(wildcard fuzz/*.h)
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) -Iinclude -pthread -fno-strict-aliasing -DHC_STATIC_LINKING_ONLY \
    -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=address,undefined -fno-sanitize-recover=all \
    -fno-omit-frame-pointer
FUZZ_SEEDS := $(BUILD)/fuzz-seeds

.PHONY: fuzz fuzz-replay fuzz-gcc fuzz-build fuzz-seeds
.PRECIOUS: $(FUZZ_BUILD)/obj/%.o $(FUZZ_GCC_BUILD)/obj/%.o
$(FUZZ_BUILD)/obj/%.o: %.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_HDRS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) -o $@ $(LDLIBS)

$(FUZZ_GCC_BUILD)/obj/%.o: %.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_GCC) $(FUZZ_FLAGS) -c $< -o $@

$(FUZZ_GCC_BUILD)/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC:%.c=$(FUZZ_GCC_BUILD)/obj/%.o) $(FUZZ_HDRS)
	$(FUZZ_GCC) $(FUZZ_FLAGS) -DHC_FUZZ_MAIN $< $(LIB_SRC:%.c=$(FUZZ_GCC_BUILD)/obj/%.o) -o $@ $(LDLIBS)

$(BUILD)/fuzz/make_seeds: fuzz/make_seeds.c $(BUILD)/libhyperc.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) $< $(BUILD)/libhyperc.a -o $@ $(LDLIBS)

fuzz-seeds: $(BUILD)/fuzz/make_seeds
	@rm -rf $(FUZZ_SEEDS) && $(BUILD)/fuzz/make_seeds $(FUZZ_SEEDS)

fuzz-build: $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%)

fuzz: fuzz-build fuzz-seeds
	@fuzz/run.sh fuzz $(FUZZ_TIME) $(FUZZ_BUILD) $(FUZZ_SEEDS) $(FUZZ_NAMES)

fuzz-replay: fuzz-build fuzz-seeds
	@fuzz/run.sh fuzz $(FUZZ_REPLAY_TIME) $(FUZZ_BUILD) $(FUZZ_SEEDS) $(FUZZ_NAMES)

fuzz-gcc: $(FUZZ_NAMES:%=$(FUZZ_GCC_BUILD)/%) fuzz-seeds
	@fuzz/run.sh replay 0 $(FUZZ_GCC_BUILD) $(FUZZ_SEEDS) $(FUZZ_NAMES)

.PHONY: fuzz-clean
clean: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_BUILD) $(FUZZ_GCC_BUILD)

# every single-bit flip of two resnet20 .hyc files (about 3.5 minutes; tests/test_bitrot.c)
.PHONY: bitrot
bitrot: all
	HYPERC_BITROT=full HYPERC_BIN=$(BUILD)/hyperc $(BUILD)/run_tests bitrot

# valgrind (memcheck) over the CLI paths on a small model: every error or
# definite leak fails (fuzz/valgrind.sh; a few minutes)
.PHONY: valgrind
valgrind: all
	@HYPERC_SHARED=$(SHARED) fuzz/valgrind.sh $(BUILD)/hyperc

# ---- shared library, install, pkg-config (issue 15) ----------------------
#   make install PREFIX=/usr/local [DESTDIR=...]   headers, libhyperc.a,
#   libhyperc.so*, bin/hyperc, lib/pkgconfig/hyperc.pc;  make uninstall
# libhyperc.so is built from the library sources compiled again with -fPIC
# and -fvisibility=hidden into $(BUILD)/pic/; it exports exactly the functions
# declared in the public headers (include/*.h): $(BUILD)/pic/export.h marks
# them visible and the export list (version script) $(BUILD)/hyperc.map is
# generated from them, so a new public function is exported without edits.
PREFIX  ?= /usr/local
DESTDIR ?=
HC_VERSION := $(shell sed -n 's/^\#define HC_VERSION_STRING "\(.*\)"/\1/p' include/hyperc.h)
HC_SOMAJOR := $(firstword $(subst ., ,$(HC_VERSION)))
HC_PUBLIC_HDRS := $(sort $(wildcard include/*.h))
PIC_OBJ := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
SO_REAL := libhyperc.so.$(HC_VERSION)
SO_NAME := libhyperc.so.$(HC_SOMAJOR)
# seen by the tests (tests/test_install.c, tests/test_python.c)
export HYPERC_TEST_BUILD := $(BUILD)
export HYPERC_TEST_CC := $(CC)
export HYPERC_TEST_CFLAGS := $(CFLAGS)

.PHONY: install uninstall
all: $(BUILD)/libhyperc.so

# forced (-include) into every PIC object: the public headers are read first,
# under default visibility, so exactly the functions they declare are exported
$(BUILD)/pic/export.h: $(HC_PUBLIC_HDRS)
	@mkdir -p $(dir $@)
	@{ echo '#pragma GCC visibility push(default)'; for h in $(notdir $(HC_PUBLIC_HDRS)); do echo "#include \"$$h\""; done; \
	   echo '#pragma GCC visibility pop'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/pic/%.o: %.c $(HDRS) $(BUILD)/pic/export.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -include $(BUILD)/pic/export.h -c $< -o $@

$(BUILD)/hyperc.map: $(HC_PUBLIC_HDRS) Makefile
	@mkdir -p $(dir $@)
	@{ echo 'HYPERC_$(HC_SOMAJOR) {'; echo '  global:'; \
	   for h in $(HC_PUBLIC_HDRS); do $(CC) -E -P -x c -Iinclude $$h || exit 1; done \
	     | grep -o '\bhc_[A-Za-z0-9_]*[[:space:]]*(' | sed 's/[[:space:]]*($$//' | sort -u | sed 's/.*/    &;/'; \
	   echo '  local: *;'; echo '};'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/$(SO_REAL): $(PIC_OBJ) $(BUILD)/hyperc.map
	$(CC) $(BASEFLAGS) $(CFLAGS) -shared -Wl,-soname,$(SO_NAME) -Wl,--version-script=$(BUILD)/hyperc.map \
	    -Wl,--no-undefined $(PIC_OBJ) -o $@ $(LDLIBS)

$(BUILD)/libhyperc.so: $(BUILD)/$(SO_REAL)
	ln -sf $(SO_REAL) $(BUILD)/$(SO_NAME)
	ln -sf $(SO_NAME) $@

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(HC_PUBLIC_HDRS) $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libhyperc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/$(SO_REAL) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(SO_REAL) $(DESTDIR)$(PREFIX)/lib/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(PREFIX)/lib/libhyperc.so
	install -m 755 $(BUILD)/hyperc $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(HC_VERSION)|g' hyperc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/hyperc.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/include/,$(notdir $(HC_PUBLIC_HDRS)))
	rm -f $(DESTDIR)$(PREFIX)/lib/libhyperc.a $(DESTDIR)$(PREFIX)/lib/$(SO_REAL) \
	    $(DESTDIR)$(PREFIX)/lib/$(SO_NAME) $(DESTDIR)$(PREFIX)/lib/libhyperc.so \
	    $(DESTDIR)$(PREFIX)/bin/hyperc $(DESTDIR)$(PREFIX)/lib/pkgconfig/hyperc.pc

# copies libhyperc.so into python/hyperc/ so that `pip install ./python` ships it
.PHONY: python-lib
python-lib: $(BUILD)/libhyperc.so
	cp -L $(BUILD)/$(SO_REAL) python/hyperc/libhyperc.so
