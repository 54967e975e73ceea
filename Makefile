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
BASEFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -Iinclude -pthread -fno-strict-aliasing
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
all: $(BUILD)/libhyperc.a $(BUILD)/hyperc $(BUILD)/run_tests

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

rd: $(BUILD)/hyperc
	@mkdir -p out
	$(BUILD)/hyperc rd --shared $(SHARED) -o out/rd.csv --png out/rd.png

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
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) -Iinclude -pthread -fno-strict-aliasing \
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
