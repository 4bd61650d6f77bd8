# Thin wrapper around cargo for building and installing libmochi.
#
#   make                                build (cargo build --release)
#   make install PREFIX=/some/prefix    install library, headers, CMake and
#                                       pkg-config packages, binaries
#   make uninstall PREFIX=/some/prefix  remove what install put there
#   make test-examples [PROTOCOL="na+sm ofi+tcp"] install into build/test-prefix and run
#                                       tests/cmake/run-examples.sh against it
#
# DESTDIR is honoured for staged installs (files go to $(DESTDIR)$(PREFIX),
# the generated .pc files still say $(PREFIX)). The cargo target directory is
# $(CARGO_TARGET_DIR) if set (environment or command line), else ./target.
#
# Installed layout:
#   PREFIX/lib/libmochi.so.X.Y.Z, libmochi.so.X -> .X.Y.Z, libmochi.so -> .X
#   PREFIX/include/...                   every header under include/
#   PREFIX/lib/cmake/<pkg>/<pkg>-config.cmake, <pkg>-config-version.cmake
#       for pkg in $(CMAKE_PACKAGES); lib/cmake/mochi also has mochi-targets.cmake
#   PREFIX/lib/pkgconfig/<pc>.pc         for pc in $(PC_FILES)
#   PREFIX/bin/<bin>                     for each of $(BINS) that was built
#   PREFIX/lib/pythonX.Y/site-packages/{mochi,pymargo}   the Python bindings
#       (python/mochi: margo, flock, bedrock, yokan; python/pymargo: the
#       py-mochi-margo names), for $(PYTHON)'s X.Y, and PREFIX/bin/bedrockctl-setup.sh

PREFIX  ?= /usr/local
DESTDIR ?=
CARGO   ?= cargo
PROTOCOL ?= na+sm
PYTHON  ?= python3

CARGO_TARGET_DIR ?= target
RELEASE_DIR := $(CARGO_TARGET_DIR)/release

# Binaries installed when present in $(RELEASE_DIR).
BINS ?= mochi-echo bedrock bedrock-query bedrock-shutdown mochi-flock-member

# Library version from Cargo.toml ([package] version); SONAME = libmochi.so.<major>.
MOCHI_VERSION   := $(shell sed -n 's/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
MOCHI_SOVERSION := $(firstword $(subst ., ,$(MOCHI_VERSION)))

# API levels reported by the CMake and pkg-config packages (the upstream
# versions whose interfaces libmochi provides).
MARGO_VERSION    ?= $(shell sed -n 's/^\#define MARGO_VERSION "\([^"]*\)"/\1/p' include/margo-version.h)
THALLIUM_VERSION ?= 0.16.0
FLOCK_VERSION    ?= 0.7.0
BEDROCK_VERSION  ?= 0.16.1
YOKAN_VERSION    ?= 0.10.0

CMAKE_PACKAGES := mochi margo thallium flock bedrock bedrock-module-api yokan
PC_FILES       := margo thallium flock-client flock-server bedrock-client \
                  bedrock-server bedrock-module-api yokan-client yokan-server mochi

ABS_PREFIX := $(abspath $(PREFIX))
INST_PREFIX := $(DESTDIR)$(ABS_PREFIX)
LIBDIR      := $(INST_PREFIX)/lib
INCDIR      := $(INST_PREFIX)/include
BINDIR      := $(INST_PREFIX)/bin
CMAKEDIR    := $(LIBDIR)/cmake
PCDIR       := $(LIBDIR)/pkgconfig
PYDIR       = $(LIBDIR)/python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages

LIB_BUILT := $(RELEASE_DIR)/libmochi.so
LIB_FILE  := libmochi.so.$(MOCHI_VERSION)
LIB_SONAME := libmochi.so.$(MOCHI_SOVERSION)

# Headers: every file under include/ except dotfiles and editor backups. Listed
# when the recipe runs, since the build (build.rs) generates some of them.
LIST_HEADERS = cd include && find . -type f ! -name '.*' ! -name '*~' | sed 's|^\./||' | LC_ALL=C sort

SUBST = sed -e 's|@PREFIX@|$(ABS_PREFIX)|g' \
            -e 's|@MOCHI_VERSION@|$(MOCHI_VERSION)|g' \
            -e 's|@MOCHI_SOVERSION@|$(MOCHI_SOVERSION)|g' \
            -e 's|@MARGO_VERSION@|$(MARGO_VERSION)|g' \
            -e 's|@THALLIUM_VERSION@|$(THALLIUM_VERSION)|g' \
            -e 's|@FLOCK_VERSION@|$(FLOCK_VERSION)|g' \
            -e 's|@BEDROCK_VERSION@|$(BEDROCK_VERSION)|g' \
            -e 's|@YOKAN_VERSION@|$(YOKAN_VERSION)|g'

# Version reported by each CMake package.
pkg_version = $(strip \
    $(if $(filter mochi,$(1)),$(MOCHI_VERSION), \
    $(if $(filter margo,$(1)),$(MARGO_VERSION), \
    $(if $(filter thallium,$(1)),$(THALLIUM_VERSION), \
    $(if $(filter flock,$(1)),$(FLOCK_VERSION), \
    $(if $(filter yokan,$(1)),$(YOKAN_VERSION), \
    $(BEDROCK_VERSION)))))))

.PHONY: all build install install-lib install-headers install-cmake \
        install-pkgconfig install-bins install-python uninstall test-examples clean

all: build

build:
	$(CARGO) build --release

install: install-lib install-headers install-cmake install-pkgconfig install-bins install-python
	@echo "installed libmochi $(MOCHI_VERSION) into $(INST_PREFIX)"

install-lib: build
	@test -n "$(MOCHI_VERSION)" || { echo "error: no version found in Cargo.toml" >&2; exit 1; }
	install -d "$(LIBDIR)"
	install -m 755 "$(LIB_BUILT)" "$(LIBDIR)/$(LIB_FILE)"
	ln -sfn "$(LIB_FILE)" "$(LIBDIR)/$(LIB_SONAME)"
	ln -sfn "$(LIB_SONAME)" "$(LIBDIR)/libmochi.so"
	# Flock's and Yokan's Bedrock modules are built into libmochi:
	# upstream-style paths (libflock-bedrock-module.so,
	# libyokan-bedrock-module.so) load the same library.
	ln -sfn "$(LIB_SONAME)" "$(LIBDIR)/libflock-bedrock-module.so"
	ln -sfn "$(LIB_SONAME)" "$(LIBDIR)/libyokan-bedrock-module.so"
	@soname=$$(readelf -d "$(LIB_BUILT)" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p'); \
	if command -v readelf >/dev/null 2>&1 && [ "$$soname" != "$(LIB_SONAME)" ]; then \
	    echo "warning: $(LIB_BUILT) has SONAME '$$soname', expected '$(LIB_SONAME)'" >&2; \
	fi

install-headers: build
	@set -e; headers=$$($(LIST_HEADERS)); \
	test -n "$$headers" || { echo "error: no headers under include/" >&2; exit 1; }; \
	n=0; for h in $$headers; do \
	    install -d "$(INCDIR)/$$(dirname $$h)"; \
	    install -m 644 "include/$$h" "$(INCDIR)/$$h"; \
	    n=$$((n + 1)); \
	done; \
	echo "installed $$n header(s) into $(INCDIR)"

install-cmake:
	@set -e; for p in $(CMAKE_PACKAGES); do \
	    install -d "$(CMAKEDIR)/$$p"; \
	done
	@set -e; $(foreach p,$(CMAKE_PACKAGES), \
	    $(SUBST) cmake/$(p)-config.cmake.in > "$(CMAKEDIR)/$(p)/$(p)-config.cmake"; \
	    $(SUBST) -e 's|@PKG_NAME@|$(p)|g' -e 's|@PKG_VERSION@|$(call pkg_version,$(p))|g' \
	        cmake/package-config-version.cmake.in > "$(CMAKEDIR)/$(p)/$(p)-config-version.cmake"; \
	    chmod 644 "$(CMAKEDIR)/$(p)/$(p)-config.cmake" "$(CMAKEDIR)/$(p)/$(p)-config-version.cmake";)
	$(SUBST) cmake/mochi-targets.cmake.in > "$(CMAKEDIR)/mochi/mochi-targets.cmake"
	chmod 644 "$(CMAKEDIR)/mochi/mochi-targets.cmake"
	@echo "installed CMake packages $(CMAKE_PACKAGES) into $(CMAKEDIR)"

install-pkgconfig:
	install -d "$(PCDIR)"
	@set -e; for pc in $(PC_FILES); do \
	    $(SUBST) "cmake/pkgconfig/$$pc.pc.in" > "$(PCDIR)/$$pc.pc"; \
	    chmod 644 "$(PCDIR)/$$pc.pc"; \
	done
	@echo "installed pkg-config files $(PC_FILES) into $(PCDIR)"

install-bins: build
	@set -e; for b in $(BINS); do \
	    if [ -f "$(RELEASE_DIR)/$$b" ]; then \
	        install -d "$(BINDIR)"; \
	        install -m 755 "$(RELEASE_DIR)/$$b" "$(BINDIR)/$$b"; \
	        echo "installed $(BINDIR)/$$b"; \
	    else \
	        echo "note: $(RELEASE_DIR)/$$b not built, not installed"; \
	    fi; \
	done

# The pure-Python bindings: every .py file under python/mochi and
# python/pymargo (no tests).
PY_PACKAGES = mochi pymargo
install-python:
	@set -e; if ! command -v $(PYTHON) >/dev/null 2>&1; then \
	    echo "note: $(PYTHON) not found, Python bindings not installed"; exit 0; fi; \
	dir="$(PYDIR)"; n=0; \
	for f in $$(cd python && find $(PY_PACKAGES) -name '*.py' | LC_ALL=C sort); do \
	    install -d "$$dir/$$(dirname $$f)"; \
	    install -m 644 "python/$$f" "$$dir/$$f"; \
	    n=$$((n + 1)); \
	done; \
	install -d "$(BINDIR)"; \
	install -m 644 python/bedrockctl-setup.sh "$(BINDIR)/bedrockctl-setup.sh"; \
	echo "installed the Python packages $(PY_PACKAGES) ($$n files) into $$dir"

uninstall:
	rm -rf "$(PYDIR)/mochi" "$(PYDIR)/pymargo" "$(BINDIR)/bedrockctl-setup.sh"
	rm -f "$(LIBDIR)/$(LIB_FILE)" "$(LIBDIR)/$(LIB_SONAME)" "$(LIBDIR)/libmochi.so" "$(LIBDIR)/libflock-bedrock-module.so" "$(LIBDIR)/libyokan-bedrock-module.so"
	@set -e; for h in $$($(LIST_HEADERS)); do rm -f "$(INCDIR)/$$h"; done
	@set -e; for p in $(CMAKE_PACKAGES); do \
	    rm -f "$(CMAKEDIR)/$$p/$$p-config.cmake" "$(CMAKEDIR)/$$p/$$p-config-version.cmake"; \
	done
	rm -f "$(CMAKEDIR)/mochi/mochi-targets.cmake"
	@set -e; for p in $(CMAKE_PACKAGES); do rmdir "$(CMAKEDIR)/$$p" 2>/dev/null || true; done
	@set -e; for pc in $(PC_FILES); do rm -f "$(PCDIR)/$$pc.pc"; done
	@set -e; for b in $(BINS); do rm -f "$(BINDIR)/$$b"; done
	@for h in $$($(LIST_HEADERS)); do \
	    d=$$(dirname "$$h"); \
	    while [ "$$d" != "." ]; do rmdir "$(INCDIR)/$$d" 2>/dev/null || break; d=$$(dirname "$$d"); done; \
	done

# Install into a scratch prefix and build/run the C and C++ examples against it.
TEST_PREFIX ?= $(CURDIR)/build/test-prefix
test-examples:
	$(MAKE) install PREFIX="$(TEST_PREFIX)" DESTDIR=
	tests/cmake/run-examples.sh "$(TEST_PREFIX)" $(PROTOCOL)

clean:
	$(CARGO) clean
	rm -rf build
