#!/usr/bin/env bash
# The house style, checked (DESIGN.md §6); run by ctest as `lint` and on its own:
#   toolchains/lint.sh          check, exit 1 on any violation
#   toolchains/lint.sh --fix    reformat the tracked C++ files in place
#
# 1. clang-format (Debian 12's clang-format 14, .clang-format) on every tracked C/C++ file.
# 2. The include rule: core/ includes no I/O, thread, clock, CivetWeb, Emscripten, OpenSSL,
#    SQLite or Redis header (it takes bytes and "now" in, returns actions); in server/ only the
#    CivetWeb adapter files include civetweb.h; in wasm/ one file per module includes the
#    Emscripten headers.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# CHORUS_LINT_ROOT: check another checkout (the lint's own test points it at a bad one).
cd "${CHORUS_LINT_ROOT:-$root}"

fix=0
[ "${1:-}" = "--fix" ] && fix=1

clang_format="${CLANG_FORMAT:-clang-format}"
if ! command -v "$clang_format" >/dev/null; then
  echo "lint: clang-format not found: run toolchains/setup.sh" >&2
  exit 1
fi
# Formatting differs between clang-format releases: the style is defined by Debian 12's.
want_major=14
major="$("$clang_format" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')"
if [ "$major" != "$want_major" ]; then
  echo "lint: clang-format $major found, the house style is checked with clang-format $want_major (Debian 12)" >&2
  exit 1
fi

# Tracked C/C++ files (git ls-files: the build tree and fetched sources are never checked).
mapfile -t files < <(git ls-files -- '*.h' '*.hpp' '*.c' '*.cc' '*.cpp')
if [ ${#files[@]} -eq 0 ]; then
  echo "lint: no tracked C/C++ files found (not a git checkout?)" >&2
  exit 1
fi

if [ $fix -eq 1 ]; then
  "$clang_format" -i "${files[@]}"
  echo "lint: reformatted ${#files[@]} files"
  exit 0
fi

status=0
fmt_out="$("$clang_format" --dry-run "${files[@]}" 2>&1)"
if [ -n "$fmt_out" ]; then
  bad="$(printf '%s\n' "$fmt_out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning:.*/\1/p' | sort -u)"
  echo "lint: clang-format differences in $(printf '%s\n' "$bad" | grep -c .) file(s) (fix: toolchains/lint.sh --fix):"
  printf '%s\n' "$fmt_out" | head -60
  status=1
fi

# Lines `#include <...>` / `#include "..."` of a set of files, as FILE:LINE:TEXT.
includes() { grep -nH -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$@" 2>/dev/null; }

core_files=()
for f in "${files[@]}"; do [[ $f == core/* ]] && core_files+=("$f"); done
forbidden='<sys/|<unistd\.h>|<fcntl\.h>|<netinet/|<arpa/|<netdb\.h>|<poll\.h>|<pthread\.h>|<thread>|<mutex>|<shared_mutex>|<condition_variable>|<future>|<atomic>|<chrono>|<ctime>|<time\.h>|<fstream>|<filesystem>|<iostream>|civetweb\.h|<emscripten|<openssl/|sqlite3\.h|<hiredis/|<signal\.h>|<csignal>'
if [ ${#core_files[@]} -gt 0 ]; then
  v="$(includes "${core_files[@]}" | grep -E "$forbidden")"
  if [ -n "$v" ]; then
    echo "lint: core/ is sans-I/O (no sockets, threads, clocks, files or platform headers):"
    printf '%s\n' "$v"
    status=1
  fi
fi

# server/: the front door (front_door*, engine_connection) is the only place that sees civetweb.h.
civetweb_allowed='^server/src/(front_door[a-z_]*|engine_connection)\.(cpp|h)$'
for f in "${files[@]}"; do
  case "$f" in server/* | wasm/*) ;; *) continue ;; esac
  if includes "$f" | grep -q 'civetweb\.h' && ! [[ $f =~ $civetweb_allowed ]]; then
    echo "lint: $f includes civetweb.h (only the CivetWeb adapter may)"
    status=1
  fi
done

# wasm/: one file per module (sub-folder) includes the Emscripten headers.
declare -A em_seen=()
for f in "${files[@]}"; do
  [[ $f == wasm/* ]] || continue
  includes "$f" | grep -q '<emscripten' || continue
  module="$(dirname "$f")"
  if [ -n "${em_seen[$module]:-}" ]; then
    echo "lint: $f and ${em_seen[$module]} both include Emscripten headers (one file per module may)"
    status=1
  else
    em_seen[$module]="$f"
  fi
done
for f in "${files[@]}"; do
  case "$f" in core/* | server/* | wasm/*) ;; *) continue ;; esac
  [[ $f == wasm/* ]] && continue
  if includes "$f" | grep -q '<emscripten'; then
    echo "lint: $f includes Emscripten headers outside wasm/"
    status=1
  fi
done

if [ $status -eq 0 ]; then
  echo "lint: ${#files[@]} files formatted; include rule holds"
fi
exit $status
