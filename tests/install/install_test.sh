#!/usr/bin/env bash
# install_test.sh BUILD_DIR VERSION CXX GENERATOR PKG_CONFIG [SDK]
# Installs the Chorus build tree BUILD_DIR to a scratch prefix (cmake --install --prefix), then,
# in a scratch folder outside the source tree, builds tests/install/consumer twice: with CMake
# (find_package(Chorus CONFIG REQUIRED), CMAKE_PREFIX_PATH=prefix) and with CXX and
# `pkg-config --cflags --libs chorus` (PKG_CONFIG_PATH=prefix/lib/pkgconfig). Each build starts
# a chorus::Server, connects to it and must exit 0. A sanitizer build's package carries the
# sanitizer link flags itself: the consumer adds none. With SDK=1 (CHORUS_WASM_DIR set), the
# installed chorus-server, started elsewhere with no --root or --sdk, must serve the installed
# SDK at /chorus/.
set -euo pipefail
build_dir="$1" version="$2" cxx="$3" generator="$4" pkg_config="$5" sdk="${6:-0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/chorus-install-test.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
prefix="$work/prefix"
fail() { echo "install test: $*" >&2; exit 1; }

echo "== cmake --install $build_dir --prefix $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install failed"; }
for f in bin/chorus-server include/chorus/server.h include/chorus/value.h include/chorus/limits.h \
         lib/libchorus_core.a lib/libchorus_server.a lib/libchorus_cluster.a lib/libchorus_civetweb.a \
         lib/cmake/Chorus/ChorusConfig.cmake lib/cmake/Chorus/ChorusConfigVersion.cmake \
         lib/cmake/Chorus/ChorusTargets.cmake lib/pkgconfig/chorus.pc; do
  [ -f "$prefix/$f" ] || fail "$f was not installed"
done
# CivetWeb's header stays private to Chorus: the public headers need only the standard library.
[ ! -e "$prefix/include/civetweb.h" ] || fail "civetweb.h was installed"

out="$("$prefix/bin/chorus-server" --version)"
[ "$out" = "chorus-server $version" ] || fail "installed chorus-server --version printed '$out', expected 'chorus-server $version'"

# The consumer's source, copied out of the tree so that nothing but the prefix can be found.
cp -r "$here/consumer" "$work/src"

echo "== find_package(Chorus CONFIG REQUIRED) with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$work/src" -B "$work/build-cmake" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; fail "configuring the consumer failed"; }
cmake --build "$work/build-cmake" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the consumer failed"; }
"$work/build-cmake/consumer" || fail "the consumer built with find_package failed"

echo "== $cxx \$(pkg-config --cflags --libs chorus) with PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pc_version="$("$pkg_config" --modversion chorus)"
[ "$pc_version" = "$version" ] || fail "pkg-config --modversion chorus is '$pc_version', expected '$version'"
# shellcheck disable=SC2046  # the flags are words
"$cxx" -std=c++17 -o "$work/consumer-pc" "$work/src/consumer.cpp" $("$pkg_config" --cflags --libs chorus) \
  || fail "building the consumer with pkg-config failed"
"$work/consumer-pc" || fail "the consumer built with pkg-config failed"

if [ "$sdk" = 1 ]; then
  echo "== the installed chorus-server serves the installed SDK"
  sdk_dir="$prefix/share/chorus/sdk"
  for f in chorus.mjs chorus.mjs.map chorus.wasm chorus.d.ts; do [ -f "$sdk_dir/$f" ] || fail "share/chorus/sdk/$f was not installed"; done
  # From a folder outside the source tree, with no --root or --sdk: the installed SDK by default.
  (cd "$work" && exec "$prefix/bin/chorus-server" --port 0 --docs-db "" --max-connections 16 \
    >"$work/server.out" 2>"$work/server.err") &
  server_pid=$!
  port=""
  # Wait for the startup line (or the server's exit), not for a fixed time.
  while [ -z "$port" ] && kill -0 "$server_pid" 2>/dev/null; do
    port="$(sed -n 's|^chorus: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/server.out")"
    [ -n "$port" ] || sleep 0.1
  done
  [ -n "$port" ] || { cat "$work/server.err"; fail "the installed chorus-server did not start"; }
  for f in chorus.mjs chorus.mjs.map chorus.wasm chorus.d.ts; do
    curl -fsS "http://127.0.0.1:$port/chorus/$f" -o "$work/served-$f" || fail "GET /chorus/$f failed"
    cmp -s "$work/served-$f" "$sdk_dir/$f" || fail "/chorus/$f is not the installed file"
  done
  grep -q "no folder 'demo' here" "$work/server.err" || fail "no word that no static files are served: $(cat "$work/server.err")"
fi
echo "install test: passed"
