# The collection's top-level Makefile.  Chapters are the NN_name/ folders
# that hold a Makefile: adding one needs no edit here.
#
#   make deps          install the Debian packages it needs (apt-get, sudo)
#   make               build common/, every chapter and tools/
#   make run           run every program's no-argument demo
#   make check         unit tests, then every program through the harness
#   make list          every program with its title line
#   make trace P=01_pipes/basic_pipe_fork [ARGS='--lines 5'] [TIMEOUT=S]
#                      its system calls: the lesson's, start-up left out
#   make sched P=...   the same, then who woke whom (perf; root or paranoid -1)
#   make bench         the quick benchmark of every mechanism, as CSV in
#                      08_comparison/results/
#   make plot          its charts as PNG files there (gnuplot; runs make bench
#                      first when there is no CSV yet)
#   make format        rewrite every .c and .h file in the .clang-format style
#   make format-check  fail if some .c or .h file is not in that style
#   make clean         remove every build product
#   make help          this list
#
# Variables: CC=clang, CFLAGS='-O0 -g', LDFLAGS=..., SANITIZE=address,undefined
# (or thread), VALGRIND=1 (run the harness under valgrind memcheck; VALGRIND=quick:
# solutions' checker cases natively, as CI does), JOBS=N (harness cases at a
# time; default one per CPU, two under valgrind or a sanitizer).

CHAPTERS := $(patsubst %/Makefile,%,$(sort $(wildcard [0-9][0-9]_*/Makefile)))

include mk/deps.mk

.DEFAULT_GOAL := all
include mk/harness.mk

# Goals named together run in order even under -j: `make deps run` installs
# first, `make clean check` cleans first.  Everything that builds goes
# through common, tests or a chapter, so those wait too.
ifneq ($(filter deps,$(MAKECMDGOALS)),)
$(filter-out deps,$(MAKECMDGOALS)) common tests $(CHAPTERS): | deps
endif
ifneq ($(filter clean,$(MAKECMDGOALS)),)
$(filter-out deps clean,$(MAKECMDGOALS)) common tests $(CHAPTERS): | clean
endif

# Without Check the tests cannot be built: say so before building anything.
# (After `make deps` in the same command it has just been installed.)
ifeq ($(filter deps,$(MAKECMDGOALS)),)
ifneq ($(filter check tests compile_commands.json,$(MAKECMDGOALS)),)
$(call require_check)
endif
endif

all: $(CHAPTERS) tools

# Only this target builds common/; everything that needs it comes after it,
# so under -j no two makes build common/ or tests/ at the same time (the
# chapters' and tests/' own calls of make -C common then find it up to date).
common:
	$(MAKE) -C common

tests: common
	$(MAKE) -C tests

tools: common
	$(MAKE) -C tools

$(CHAPTERS): common
	$(MAKE) -C $@

# `make trace P=01_pipes/basic_pipe_fork ARGS='--lines 5'`: the program is
# built, then run under tools/trace (tools/README.md).  A missing or wrong P
# stops before anything is built.
TRACE_USAGE := usage: make trace|sched P=NN_chapter/program [ARGS='...'] [TIMEOUT=seconds]
ifneq ($(filter trace sched,$(MAKECMDGOALS)),)
ifeq ($(strip $(P)),)
$(error which program? P= is missing; $(TRACE_USAGE))
else ifeq ($(wildcard $(P).c),)
$(error no program $(P) here (no $(P).c); $(TRACE_USAGE))
endif
endif
trace sched: tools
	@$(MAKE) --no-print-directory -C $(dir $(P)) $(notdir $(P))
	@tools/trace $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(if $(filter sched,$@),--sched) ./$(P) $(ARGS)

bench plot: common
	@$(MAKE) --no-print-directory -C 08_comparison $@

run: all
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c run || exit 1; done

list:
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c list; done

check: all tests
	$(MAKE) -C tests check
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c unit-check || exit 1; done
	tests/examples $(HARNESS_FLAGS) $(CHAPTERS)

# The packages of mk/deps.mk, required and optional, through sudo unless root.
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)
deps:
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y $(DEPS_REQUIRED) $(DEPS_OPTIONAL)

# Every tracked C file (every C file outside .git/ when this is no checkout).
CLANG_FORMAT ?= clang-format
FORMAT_FILES  = $(shell git ls-files -- '*.[ch]' 2>/dev/null || \
                  find . -name .git -prune -o -name '*.[ch]' -print)
ifeq ($(filter deps,$(MAKECMDGOALS)),)
ifneq ($(filter format format-check,$(MAKECMDGOALS)),)
ifeq ($(shell command -v $(CLANG_FORMAT) 2>/dev/null),)
$(error make format needs clang-format: install the Debian package clang-format (or make deps))
endif
endif
endif

format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

# Shows the first difference in each file; after `make format`, git diff
# shows them all.
format-check:
	@$(CLANG_FORMAT) --dry-run -Werror --ferror-limit=1 $(FORMAT_FILES) || \
	    { echo "format-check: the files above are not in the .clang-format style (make format rewrites them)"; exit 1; }

# One JSON compilation database for editors and clang-tidy (needs bear).
compile_commands.json:
	$(MAKE) clean
	bear --output $@.new -- $(MAKE) all tests
	mv $@.new $@

# tests/Makefile's own clean removes nothing yet, so its products are named
# here, removed after `make -C tests clean` (which writes the stamp again).
TESTS_PRODUCTS = tests/examples $(basename $(wildcard tests/test_*.c)) tests/.build-flags tests/.*.d

clean:
	rm -f compile_commands.json
	$(MAKE) -C common clean
	$(MAKE) -C tests clean
	$(MAKE) -C tools clean
	rm -f $(TESTS_PRODUCTS)
	rm -rf tests/.work tests/.mqueue
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c clean; done

help:
	@sed -n '4,24s/^# \{0,1\}//p' Makefile

.PHONY: all common tests tools trace sched bench plot run list check deps format format-check clean help \
        compile_commands.json $(CHAPTERS)
