#!/usr/bin/env bash
# Installs the system packages the build and tests need (Debian 12).
# Safe to run again: apt skips what is already there.
# Both MPIs (MPICH and Open MPI): the tests run each under its own launcher,
# called by its explicit name (mpiexec.mpich, mpirun.openmpi). Installing
# Open MPI may switch the plain mpiexec/mpicc alternatives to it; nothing
# here depends on them.
set -euo pipefail
packages=(libfabric-dev libjson-c-dev nlohmann-json3-dev libfabric-bin mpich libmpich-dev openmpi-bin libopenmpi-dev binutils libclang-dev clang cmake g++ make pkg-config iproute2 python3 valgrind)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
# The formatting and lint sections need rustfmt and clippy.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || { echo "cargo fmt / cargo clippy not found: install rustfmt and clippy" >&2; exit 1; }
    rustup component add rustfmt clippy
fi
python3 -c "import pytest" 2>/dev/null || python3 -m pip install --quiet pytest
