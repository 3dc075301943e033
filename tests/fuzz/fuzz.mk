# SPDX-License-Identifier: GPL-2.0
#
# tests/fuzz/fuzz.mk: the fuzzer's build, included by the top Makefile.
#
#   build/fuzz/lguest-fuzz   tests/fuzz/fuzz.c (which #includes lguest.c)
#                            with libFuzzer, ASan and UBSan: clang and
#                            Debian's libclang-rt-14-dev.  Always native
#                            and always clang, whatever $(CC) is; part of
#                            $(TEST_DEPS), for tests/t-fuzz-regress.sh.
#   make fuzz [FUZZ_SECONDS=N] [FUZZ_JOBS=N]
#                            fuzz for N seconds (60) on N processes (2),
#                            from tests/fuzz/corpus into build/fuzz/corpus;
#                            crashes go to build/fuzz/crashes/.  The last
#                            line is "fuzz: N executions, N crashes".
#   make fuzz-seeds          rewrite tests/fuzz/corpus from the seeds
#                            fuzz.c describes

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-DLGUEST_FUZZ -DLGUEST_VERSION='"$(VERSION)"' $(WARNINGS)

TEST_DEPS += build/fuzz/lguest-fuzz

build/fuzz/lguest-fuzz: tests/fuzz/fuzz.c lguest.c tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz.c

fuzz: build/fuzz/lguest-fuzz
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_JOBS)

fuzz-seeds: build/fuzz/lguest-fuzz
	rm -f tests/fuzz/corpus/*
	@mkdir -p tests/fuzz/corpus
	LGUEST_FUZZ_SEEDS=tests/fuzz/corpus build/fuzz/lguest-fuzz

.PHONY: fuzz fuzz-seeds
