# mk/flags.mk - compiler and flags shared by common/, tests/ and every chapter.
#
# Set from the command line:  make CC=clang CFLAGS='-O0 -g' SANITIZE=address,undefined
# The warnings and the language standard are always on; CFLAGS is for the rest.

CC       ?= cc
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
SANITIZE ?=

STD_FLAGS  := -std=c17 -pipe
WARN_FLAGS := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Werror
ifneq ($(SANITIZE),)
SAN_FLAGS  := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

ALL_CFLAGS  = $(STD_FLAGS) $(WARN_FLAGS) $(CFLAGS) $(SAN_FLAGS) -I$(TOP)/common
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)
LDLIBS     += -pthread -lm

COMMON_LIB := $(TOP)/common/libcommon.a

# Everything a directory builds depends on .build-flags, which is rewritten
# only when the compiler or flags change: switching SANITIZE or CC rebuilds.
FLAGS_STAMP := .build-flags
FLAGS_NOW   := $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LDLIBS)
ifneq ($(FLAGS_NOW),$(shell cat $(FLAGS_STAMP) 2>/dev/null))
$(shell printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_STAMP))
endif

$(FLAGS_STAMP): ;

# No built-in rules: every product is built by a rule written here.
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

# Header dependencies, written beside each product as .NAME.d.
DEPFLAGS = -MMD -MP -MF .$(notdir $@).d

include $(dir $(lastword $(MAKEFILE_LIST)))harness.mk
