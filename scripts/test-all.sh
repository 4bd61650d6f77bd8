#!/usr/bin/env bash
# Every test: installs what it needs, then runs the Rust unit and
# multi-process tests, the C header tests, and the C/C++ examples built
# through find_package from an installed prefix, on na+sm and ofi+tcp.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each section stops the run at its first failure (set -e); the closing line
# counts the sections that ran.
sections=0
section() { sections=$((sections + 1)); echo "== $* (t=${SECONDS}s)"; }
bash scripts/install-deps.sh

section "formatting (cargo fmt --check, rustfmt.toml)"
cargo fmt --all --check

section "lints (cargo clippy --all-targets -- -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo test (release)"
# The bedrock daemon that multi-process tests start loads the libmochi.so
# beside it, which `cargo test` alone does not rebuild.
cargo build --release --workspace
cargo test --release --workspace

section "generated headers are committed fresh"
if git rev-parse --git-dir >/dev/null 2>&1; then
    git diff --exit-code -- include/ || { echo "include/ differs from what build.rs generates: commit it" >&2; exit 1; }
fi

section "C header tests"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/test_group_view.c -o "$tmp/view_c"
"$tmp/view_c"
g++ -x c++ -std=c++17 -Wall -Wextra -Werror -Iinclude tests/c/test_group_view.c -o "$tmp/view_cxx"
"$tmp/view_cxx"
printf '#include <yokan/client.h>\n#include <yokan/database.h>\n#include <yokan/server.h>\n#include <yokan/collection.h>\nint main(void) { return 0; }\n' > "$tmp/yk.c"
gcc -std=c11 -Wall -Wextra -Werror -Iinclude "$tmp/yk.c" -o "$tmp/yk_c"
printf '#include <yokan/cxx/client.hpp>\n#include <yokan/cxx/server.hpp>\nint main() { return yokan::Exception(YOKAN_ERR_MODE).code() == 29 ? 0 : 1; }\n' > "$tmp/yk.cpp"
g++ -std=c++14 -Wall -Wextra -Werror -Iinclude "$tmp/yk.cpp" -o "$tmp/yk_cxx"
"$tmp/yk_cxx"

section "installed prefix: C and C++ examples through find_package (built once, run on na+sm and ofi+tcp)"
make --no-print-directory test-examples PROTOCOL="na+sm ofi+tcp"

section "Python bindings (mochi.margo/flock/bedrock/yokan, pymargo) over target/release/libmochi.so"
bash python/run-tests.sh
# The installed packages find the installed library (and hold mochi.yokan and
# pymargo), the tutorial's Python example runs from them, and
# bedrockctl-setup.sh finds the installed package.
site=$(echo build/test-prefix/lib/python3*/site-packages)
(cd / && env -u MOCHI_LIBRARY PYTHONPATH="$OLDPWD/$site" python3 -c \
    'import mochi._lib as l, sys, mochi.yokan.client, pymargo.core; sys.exit(0 if l.path.endswith("/build/test-prefix/lib/libmochi.so.0") else "loaded " + l.path)')
(cd / && env -u MOCHI_LIBRARY PYTHONPATH="$OLDPWD/$site" python3 "$OLDPWD/examples-c/tutorial/python_example.py" na+sm >/dev/null)
bash -c 'source build/test-prefix/bin/bedrockctl-setup.sh && bedrockctl --help >/dev/null'

section "Flock C API conformance suite (ctest, installed prefix)"
bash tests/c/flock/run.sh build/test-prefix

section "Flock service discovery (C++ and C clients, built once) from the installed prefix, na+sm and ofi+tcp"
bash examples-c/flock/run-discovery.sh build/test-prefix na+sm ofi+tcp

section "valgrind memcheck: the bedrock daemon and a C client through a short scenario"
bash tests/valgrind/run.sh build/test-prefix na+sm

section "Yokan: C and C++ clients through find_package(yokan) against a bedrock daemon (map and lmdb); the group-aware handle against a replicated group with a SIGKILLed member; na+sm and ofi+tcp"
for protocol in na+sm ofi+tcp; do
    bash examples-c/yokan/run.sh build/test-prefix "$protocol"
    bash examples-c/yokan/run-group.sh build/test-prefix "$protocol"
done

section "Bedrock: daemons, configs, C and C++ modules, C and C++ clients, CLIs (installed prefix)"
bash tests/bedrock/run.sh build/test-prefix na+sm

section "the Flock-integration tutorial, published configs verbatim with Yokan (Bedrock daemons, 4-process groups under mpiexec.mpich and mpirun.openmpi, discovery client), na+sm and ofi+tcp"
bash examples-c/tutorial/run.sh build/test-prefix na+sm ofi+tcp

section "replicated Yokan store over a Flock group: write, SIGKILL a member, read back (installed prefix, Python client), na+sm and ofi+tcp"
for protocol in na+sm ofi+tcp; do
    bash examples-c/replicated/run.sh build/test-prefix "$protocol" 1000
done

echo "sections: ${sections} passed, 0 failed (${SECONDS}s)"
