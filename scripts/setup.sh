#!/usr/bin/env bash
# Installs every Debian package lrem needs. Idempotent: a fast no-op when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libfaiss-dev libopenblas-dev
  libsentencepiece-dev sentencepiece
  pybind11-dev python3-pybind11 python3-dev python3-numpy python3-pytest
  libeigen3-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  libssl-dev libicu-dev libpcre2-dev libsqlite3-dev
  liblmdb-dev  # only for bench_item_store_lmdb, the item store's comparison with LMDB
  wordnet-base
  libgloo-dev python3-torch python3-matplotlib python3-nbclient python3-ipykernel
  clang libclang-rt-14-dev clang-tidy
)

# Optional test dependencies: the search page's browser test (tests/python/test_search_page.py)
# drives headless chromium over its DevTools websocket, and skips when they are absent.
# LREM_NO_BROWSER=1 leaves them out (chromium is about 300 MB installed).
if [ "${LREM_NO_BROWSER:-0}" != 1 ]; then PACKAGES+=(chromium python3-websocket); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
