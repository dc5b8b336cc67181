# mk/chapter.mk - the rules every chapter shares.  A chapter Makefile is:
#
#     include ../mk/chapter.mk
#
# optionally preceded by MODULES := name ... (a chapter library module,
# name.c, linked into every program) and UNIT_TESTS := test_name ...
# (Check unit tests of that module, test_name.c, run by `make check`).
#
# Programs are found by their level prefix; adding one needs no edit here.

TOP := ..
include $(TOP)/mk/deps.mk

# Without Check the tests cannot be built: say so before anything is built or
# written (flags.mk writes the flags stamp).
ifneq ($(filter check check-exercise $(if $(UNIT_TESTS),unit-check) $(UNIT_TESTS),$(MAKECMDGOALS)),)
$(call require_check)
endif

include $(TOP)/mk/flags.mk

CHAPTER    := $(notdir $(CURDIR))
# In the order a reader meets them: basic, advanced, pitfall, solution.
LEVELS     := basic advanced pitfall solution
PROGRAMS   := $(foreach l,$(LEVELS),$(sort $(basename $(wildcard $(l)_*.c))))
MODULE_OBJS := $(addsuffix .o,$(MODULES))
EXAMPLES   := $(TOP)/tests/examples

# Under SANITIZE=thread the harness runs only the programs that start threads
# (--threads-only), so only those are built: the ones whose source starts a thread, or
# all of them when a module of the chapter does.  (A superset of what the harness picks.)
ifneq ($(filter thread,$(subst $(comma), ,$(SANITIZE))),)
THREAD_CALLS := pthread_create|thrd_create
ifneq ($(MODULES),)
THREADED_MODULES := $(shell grep -lE '$(THREAD_CALLS)' $(addsuffix .c,$(MODULES)) 2>/dev/null)
endif
BUILT_PROGRAMS := $(if $(THREADED_MODULES),$(PROGRAMS),$(basename $(shell \
    grep -lE '$(THREAD_CALLS)' $(addsuffix .c,$(PROGRAMS)) /dev/null)))
else
BUILT_PROGRAMS := $(PROGRAMS)
endif

all: $(BUILT_PROGRAMS)

# Build common/ first: a chapter builds on its own from inside its folder.
$(COMMON_LIB): FORCE
	@$(MAKE) --no-print-directory -C $(TOP)/common

$(PROGRAMS): %: %.c $(MODULE_OBJS) $(COMMON_LIB) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ $< $(MODULE_OBJS) $(COMMON_LIB) $(ALL_LDFLAGS) $(LDLIBS)

ifneq ($(MODULES),)
$(MODULE_OBJS): %.o: %.c $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<
endif

ifneq ($(UNIT_TESTS),)
$(UNIT_TESTS): %: %.c $(MODULE_OBJS) $(COMMON_LIB) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) $$($(PKG_CONFIG) --cflags check) $(DEPFLAGS) -o $@ $< $(MODULE_OBJS) \
	    $(COMMON_LIB) $(ALL_LDFLAGS) $$($(PKG_CONFIG) --libs check) $(LDLIBS)
endif

$(EXAMPLES): FORCE
	@$(MAKE) --no-print-directory -C $(TOP)/tests examples

# `make run`: every program's no-argument demo under a line that names it, with stdin
# /dev/null as in the harness (a program that asks on a terminal, basic_choose_ipc, lists
# its answers instead of waiting for the reader).
run: all
	@for p in $(BUILT_PROGRAMS); do \
	    printf '\n==== %s/%s: %s\n' '$(CHAPTER)' "$$p" "$$(sed -n '1s/^\/\* *[^ ]* - //p' $$p.c)"; \
	    ./$$p </dev/null || { echo "==== $$p failed with status $$?"; exit 1; }; \
	done

# `make list`: each program with the title line of its header.  Under
# `make list | head -3` the reader leaves early: SIGPIPE is ignored so that
# printf fails instead of killing the shell (which make would report as
# "Broken pipe"), and the loop stops quietly at the first failed write.
list:
	@trap '' PIPE; for p in $(PROGRAMS); do \
	    printf '%-40s %s\n' "$(CHAPTER)/$$p" "$$(sed -n '1s/^\/\* *[^ ]* - //p' $$p.c)" \
	        2>/dev/null || exit 0; \
	done

unit-check: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do ./$$t || exit 1; done

# `make check`: the chapter's unit tests, then every program in the harness.
check: all unit-check $(EXAMPLES)
	$(EXAMPLES) $(HARNESS_FLAGS) $(CURDIR)

# Grade any binary against a solution's expectation:
#     make check-exercise EX=solution_pipe_wc BIN=~/homework/my_wc
check-exercise: $(EXAMPLES)
	@test -n "$(EX)" -a -n "$(BIN)" || { echo "usage: make check-exercise EX=solution_name BIN=path/to/binary"; exit 2; }
	$(EXAMPLES) --exercise $(EX) --bin $(abspath $(BIN)) $(CURDIR)

clean:
	rm -f $(PROGRAMS) $(UNIT_TESTS) *.o .*.d $(FLAGS_STAMP)

.PHONY: all run list check unit-check check-exercise clean FORCE
-include $(wildcard .*.d)
