# mk/harness.mk - how `make check` runs the examples harness; included by the
# top Makefile and mk/flags.mk.  VALGRIND=1: under valgrind memcheck (VALGRIND=quick:
# an exercise solution's checker cases and every usage-error case natively, the rest
# under valgrind; what CI runs); SANITIZE=...:
# the lighter workloads of light-args:, and with SANITIZE=thread only the
# programs that start threads (ThreadSanitizer has nothing to say about the
# others); JOBS=N cases at a time (default: one per CPU; two per CPU under
# valgrind or a sanitizer, where cases mostly wait).
comma := ,
HARNESS_FLAGS = $(if $(VALGRIND),--valgrind) $(if $(filter quick,$(VALGRIND)),--quick) \
    $(if $(SANITIZE),--light) \
    $(if $(filter thread,$(subst $(comma), ,$(SANITIZE))),--threads-only) \
    $(if $(JOBS),-j $(JOBS))
