#!/usr/bin/env bash
# Idempotent dependency setup shared by both README commands.
# Installs only what is missing: Debian packages via apt-get, JS tooling via `npm ci`
# from the committed lockfile. Safe to run any number of times.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the build, the tests and the demo need.
debs=(
  build-essential cmake ninja-build pkg-config clang clang-format
  nodejs npm
  emscripten
  libcivetweb-dev rapidjson-dev googletest libgtest-dev
  libssl-dev libsqlite3-dev libhiredis-dev redis-server
  chromium curl ca-certificates
)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node may come from another apt source (e.g. a newer nodejs that bundles npm); accept any
# node >= 18 with an npm next to it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/#nodejs/}"); missing=("${missing[@]/#npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# JS tooling (test peers, playwright-core, demo bundling) from the committed lockfile.
if [ -f "$here/package-lock.json" ]; then
  stamp="$here/node_modules/.chorus-lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$here/package-lock.json" "$stamp"; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$stamp"
  fi
fi
