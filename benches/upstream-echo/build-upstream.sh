#!/usr/bin/env bash
# Build upstream Mochi margo (and what it needs) into a prefix, for
# benches/upstream-echo.sh.  Nothing here downloads anything: it needs the
# source trees already unpacked, so it works offline once they are there.
#
# Usage: build-upstream.sh SRC_DIR PREFIX [JOBS]
#
# SRC_DIR must hold (exact versions the bench was written against):
#   SRC_DIR/argobots   pmodels/argobots, tag v1.2
#   SRC_DIR/mercury    mercury-hpc/mercury, tag v2.4.1, WITH its submodules
#                      src/boost (mercury-hpc/preprocessor) and
#                      src/mchecksum (mercury-hpc/mchecksum)
#   SRC_DIR/margo      mochi-hpc/mochi-margo, tag v0.23.1
# For example, with network access:
#   git clone -b v1.2 https://github.com/pmodels/argobots SRC_DIR/argobots
#   git clone --recurse-submodules -b v2.4.1 https://github.com/mercury-hpc/mercury SRC_DIR/mercury
#   git clone -b v0.23.1 https://github.com/mochi-hpc/mochi-margo SRC_DIR/margo
# System packages used (Debian names): libfabric-dev (mercury's NA OFI plugin),
# libjson-c-dev (margo), cmake, autoconf, automake, libtool, pkg-config, gcc.
#
# Build flavour: what spack builds by default for these packages -- shared
# libraries, CMake RelWithDebInfo (-O2 -g), mercury with NA SM + NA OFI and
# request/response checksums on, argobots with its configure defaults.
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 SRC_DIR PREFIX [JOBS]" >&2
    exit 2
fi
src=$(realpath "$1")
mkdir -p "$2"
prefix=$(realpath "$2")
jobs=${3:-1}
for d in argobots/configure.ac mercury/CMakeLists.txt mercury/src/boost/preprocessor.hpp \
         mercury/src/mchecksum/CMakeLists.txt margo/CMakeLists.txt; do
    [[ -e $src/$d ]] || { echo "$0: missing $src/$d (see the header of this script)" >&2; exit 1; }
done
pkg-config --exists libfabric || { echo "$0: libfabric development files not found (apt install libfabric-dev)" >&2; exit 1; }
pkg-config --exists json-c || { echo "$0: json-c development files not found (apt install libjson-c-dev)" >&2; exit 1; }
build=$prefix/.build
mkdir -p "$build"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}

echo "== argobots"
if [[ ! -x $src/argobots/configure ]]; then (cd "$src/argobots" && ./autogen.sh); fi
mkdir -p "$build/argobots"
(cd "$build/argobots" && "$src/argobots/configure" --prefix="$prefix" && make -j"$jobs" && make install)

echo "== mercury"
cmake -S "$src/mercury" -B "$build/mercury" \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF -DBUILD_EXAMPLES=OFF \
    -DNA_USE_SM=ON -DNA_USE_OFI=ON -DMERCURY_USE_BOOST_PP=ON -DMERCURY_USE_CHECKSUMS=ON
cmake --build "$build/mercury" -j "$jobs"
cmake --install "$build/mercury"

echo "== margo"
cmake -S "$src/margo" -B "$build/margo" \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILD_SHARED_LIBS=ON -DENABLE_TESTS=OFF -DCMAKE_INSTALL_RPATH="$prefix/lib" -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON
cmake --build "$build/margo" -j "$jobs"
cmake --install "$build/margo"

echo "upstream margo installed in $prefix"
