# The collection's top-level Makefile.  Chapters are the NN_name/ folders
# that hold a Makefile: adding one needs no edit here.
#
#   make            build common/ and every chapter
#   make run        run every program's no-argument demo
#   make check      unit tests, then every program through the harness
#   make list       every program with its title line
#   make clean      remove every build product
#   make help       this list
#
# Variables: CC=clang, CFLAGS='-O0 -g', LDFLAGS=..., SANITIZE=address,undefined
# (or thread), VALGRIND=1 (run the harness under valgrind memcheck).

CHAPTERS := $(patsubst %/Makefile,%,$(sort $(wildcard [0-9][0-9]_*/Makefile)))

HARNESS_FLAGS := $(if $(VALGRIND),--valgrind)

all: $(CHAPTERS)

common:
	$(MAKE) -C common

tests: common
	$(MAKE) -C tests

# common/ first, so that the chapters' own calls find it up to date and
# parallel chapter builds never race on it.
$(CHAPTERS): common
	$(MAKE) -C $@

run: all
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c run || exit 1; done

list:
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c list; done

check: all tests
	$(MAKE) -C tests check
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c unit-check || exit 1; done
	tests/examples $(HARNESS_FLAGS) $(CHAPTERS)

# One JSON compilation database for editors and clang-tidy (needs bear).
compile_commands.json:
	$(MAKE) clean
	bear --output $@.new -- $(MAKE) all tests
	mv $@.new $@

clean:
	rm -f compile_commands.json
	$(MAKE) -C common clean
	$(MAKE) -C tests clean
	@for c in $(CHAPTERS); do $(MAKE) --no-print-directory -C $$c clean; done

help:
	@sed -n '4,12s/^# \{0,1\}//p' Makefile

.PHONY: all common tests run list check clean help compile_commands.json $(CHAPTERS)
