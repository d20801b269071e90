# fuzz.mk: build the libFuzzer harnesses with clang into fuzz-build/ and run
# each for FUZZ_SECONDS (GNU make; `make fuzz` calls it with the library's
# sources and flags).  The library is compiled again here, with clang and
# -fsanitize=fuzzer-no-link,address,undefined, so coverage reaches into it.
FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_TARGETS = json jwt b64url router query engine score cron share_cookie multipart
B = fuzz-build
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
	-I$(srcdir)/src -I$(srcdir)/t/fuzz -D_GNU_SOURCE $(DEP_CFLAGS)
LIB_OBJS = $(patsubst %.c,$(B)/%.o,$(filter %.c,$(LIB_SOURCES)))

build: $(addprefix $(B)/fuzz-,$(FUZZ_TARGETS))
run: $(addprefix run-,$(FUZZ_TARGETS))

$(B)/%.o: $(srcdir)/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(B)/libpromptd.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(B)/fuzz-%: $(srcdir)/t/fuzz/%.c $(srcdir)/t/fuzz/fuzz.h $(B)/libpromptd.a
	@echo "  FUZZLD   $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(B)/libpromptd.a $(DEP_LIBS) -o $@

# New inputs go to fuzz-build/corpus/<name>/ (not committed); the committed
# seeds and regression inputs are read too.  A crash, leak, UB report or a
# 10 s input fails the run and leaves the input in fuzz-build/artifacts/.
run-%: $(B)/fuzz-%
	@mkdir -p $(B)/corpus/$* $(B)/artifacts
	@echo "  FUZZ     $* for $(FUZZ_SECONDS) s"
	@dirs=""; for d in $(srcdir)/t/fuzz/corpus/$* $(srcdir)/t/fuzz/regress/$*; do \
		[ -d "$$d" ] && dirs="$$dirs $$d"; done; \
	if UBSAN_OPTIONS=print_stacktrace=1 ./$(B)/fuzz-$* \
		-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix=$(B)/artifacts/$*- \
		$(B)/corpus/$* $$dirs >$(B)/$*.log 2>&1; then \
		echo "  FUZZ     $* ok: $$(grep -m1 '^stat::number_of_executed_units' $(B)/$*.log | \
			sed 's/.*: *//') runs, corpus $$(ls $(B)/corpus/$* | wc -l)"; \
	else \
		tail -n 60 $(B)/$*.log; \
		echo "fuzz: $* failed (log $(B)/$*.log); the input is in $(B)/artifacts/:" \
			"fix the bug and add the input under t/fuzz/regress/$*/"; \
		exit 1; \
	fi

.PHONY: build run
.SECONDARY:

-include $(LIB_OBJS:.o=.d)
