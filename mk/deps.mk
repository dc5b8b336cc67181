# mk/deps.mk - the Debian packages the collection needs, and the check that
# the tests can be built.  Included by the top Makefile and mk/chapter.mk.
#
# Required: a C compiler, make and libc headers (build-essential) build and
# run every program; Check and pkg-config build the tests; strace runs the
# harness's system-call checks, which grade how an exercise does its work
# (without it those cases are skipped, not graded); socat and curl are the
# third-party clients the 06_sockets tests talk to the servers with.
# Optional: clang and its sanitizer runtime (CC=clang, SANITIZE=...),
# valgrind (VALGRIND=1), clang-format (make format, make format-check),
# gnuplot-nox (make plot: the benchmark's charts).
DEPS_REQUIRED := build-essential check pkg-config strace socat curl
DEPS_OPTIONAL := clang libclang-rt-dev valgrind clang-format gnuplot-nox

PKG_CONFIG ?= pkg-config

# $(call require_check): stop at once, with one line, unless pkg-config finds
# Check.  Expanded while a Makefile is read, so that nothing is built first,
# even under make -j.
CHECK_MISSING := the tests need the Debian packages check and pkg-config: \
    sudo apt-get install check pkg-config (or make deps)
require_check = $(if $(shell command -v $(PKG_CONFIG) >/dev/null 2>&1 && \
    $(PKG_CONFIG) --exists check && echo found),,$(error $(CHECK_MISSING)))
