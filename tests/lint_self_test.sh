#!/usr/bin/env bash
# The lint fails on each kind of violation: a checkout holding a badly formatted file, a core
# file including <thread>, a server file other than the adapter including civetweb.h, and two
# files of one WASM module including Emscripten headers; and passes once they are fixed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q .
cp "$here/.clang-format" .
mkdir -p core/src server/src wasm/sdk
printf 'int f() {\n  return 1;\n}\n' > core/src/good.cpp
printf 'int  g( ) {return 2;}\n' > core/src/ugly.cpp
printf '#include <thread>\n' > core/src/threads.cpp
printf '#include <civetweb.h>\n' > server/src/routes.cpp
printf '#include <civetweb.h>\n' > server/src/front_door.cpp
printf '#include <emscripten/bind.h>\n' > wasm/sdk/a.cpp
printf '#include <emscripten/val.h>\n' > wasm/sdk/b.cpp
git add -A
out="$(CHORUS_LINT_ROOT="$work" bash "$here/toolchains/lint.sh" 2>&1)"
status=$?
fail=0
[ $status -eq 1 ] || { echo "lint exited $status on a bad checkout"; fail=1; }
for want in "clang-format differences in 1 file" "core/src/threads.cpp:1:#include <thread>" \
            "server/src/routes.cpp includes civetweb.h" "both include Emscripten headers"; do
  grep -qF "$want" <<<"$out" || { echo "lint did not report: $want"; fail=1; }
done
grep -qF "server/src/front_door.cpp includes" <<<"$out" && { echo "the adapter was refused"; fail=1; }
# Fixed: it passes.
printf 'int g() {\n  return 2;\n}\n' > core/src/ugly.cpp
rm core/src/threads.cpp server/src/routes.cpp wasm/sdk/b.cpp
git add -A
CHORUS_LINT_ROOT="$work" bash "$here/toolchains/lint.sh" >/dev/null 2>&1 || { echo "lint failed a clean checkout"; fail=1; }
[ $fail -eq 0 ] && echo "lint self-test: every violation reported, the clean checkout passes"
exit $fail
