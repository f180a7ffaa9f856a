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
  rapidjson-dev googletest libgtest-dev
  libssl-dev libsqlite3-dev libhiredis-dev libmsgpack-cxx-dev prometheus-cpp-dev libcrypt-dev redis-server
  debian-archive-keyring xz-utils patch
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

# CivetWeb from Debian's source package, with Debian's patches and Chorus's own
# (server/civetweb/chorus-takeover.patch), unpacked into build/third_party/civetweb for
# server/CMakeLists.txt to compile. The version is pinned; apt fetches it through a private
# state folder (the system's apt configuration is left alone) and checks it against the
# archive's signed index, and the files must also have the checksums below. Nothing is
# done when the patched tree is already there for this version and this patch.
civetweb_version="1.15+dfsg-4"
civetweb_files=(
  "ec372e9737bc820118bbb735f46a07d41f795814ca0f38bc6e67048e7a460f33  civetweb_1.15+dfsg.orig.tar.xz"
  "2fe67d05a15be93764398275372f41f6228b17497b23d04f149482ffde7b3fb8  civetweb_1.15+dfsg-4.debian.tar.xz"
)
third_party="$here/build/third_party"
civetweb_dir="$third_party/civetweb"
civetweb_patch="$here/server/civetweb/chorus-takeover.patch"
civetweb_stamp="civetweb $civetweb_version, chorus-takeover.patch $(sha256sum <"$civetweb_patch" | cut -d' ' -f1)"
if [ "$(cat "$civetweb_dir/.chorus-stamp" 2>/dev/null)" != "$civetweb_stamp" ]; then
  dl="$third_party/download"
  mkdir -p "$dl"
  if ! (cd "$dl" && printf '%s\n' "${civetweb_files[@]}" | sha256sum --check --status 2>/dev/null); then
    echo "setup: fetching CivetWeb $civetweb_version (Debian source package)"
    # The Debian mirror the system already uses (its bookworm entry), unless given.
    mirror="${CHORUS_DEBIAN_MIRROR:-}"
    if [ -z "$mirror" ]; then
      mirror="$(apt-get indextargets --no-release-info --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' 2>/dev/null |
        awk '$1 == "deb" && $2 == "bookworm" { print $3; exit }')"
    fi
    if [ -z "$mirror" ]; then
      echo "setup: no Debian bookworm mirror in the apt sources; set CHORUS_DEBIAN_MIRROR to one" >&2
      exit 1
    fi
    apt_dir="$third_party/apt"
    mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: %s\n' \
      "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg >"$apt_dir/sources/civetweb.sources"
    apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources"
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" -qq update
    rm -f "$dl"/civetweb_*
    (cd "$dl" && apt-get "${apt_opts[@]}" -qq source --download-only "civetweb=$civetweb_version" >/dev/null)
    if ! (cd "$dl" && printf '%s\n' "${civetweb_files[@]}" | sha256sum --check --quiet); then
      echo "setup: CivetWeb $civetweb_version downloaded with unexpected checksums" >&2
      exit 1
    fi
  fi
  echo "setup: unpacking and patching CivetWeb $civetweb_version into build/third_party/civetweb"
  work="$(mktemp -d "$third_party/civetweb.XXXXXX")"
  tar -xJf "$dl/civetweb_1.15+dfsg.orig.tar.xz" -C "$work"
  tar -xJf "$dl/civetweb_1.15+dfsg-4.debian.tar.xz" -C "$work/civetweb-1.15"
  while read -r p _; do
    case "$p" in '' | '#'*) continue ;; esac
    patch -d "$work/civetweb-1.15" -p1 --batch --forward --quiet <"$work/civetweb-1.15/debian/patches/$p"
  done <"$work/civetweb-1.15/debian/patches/series"
  patch -d "$work/civetweb-1.15" -p1 --batch --forward --quiet <"$civetweb_patch"
  echo "$civetweb_stamp" >"$work/civetweb-1.15/.chorus-stamp"
  rm -rf "$civetweb_dir"
  mv "$work/civetweb-1.15" "$civetweb_dir"
  rm -rf "$work"
fi

# JS tooling (test peers, playwright-core, demo bundling) from the committed lockfile.
if [ -f "$here/package-lock.json" ]; then
  stamp="$here/node_modules/.chorus-lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$here/package-lock.json" "$stamp"; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$stamp"
  fi
fi
