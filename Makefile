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
