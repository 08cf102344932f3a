#!/usr/bin/env bash
# Installs every Debian package shiplog needs to build, run and test.
# Idempotent: skips apt entirely when everything is already present.
set -euo pipefail

PKGS=(
  build-essential pkg-config meson ninja-build cmake
  libuv1-dev libraft-dev liblz4-dev libnng-dev libmbedtls-dev libmsgpack-dev liblmdb-dev lmdb-utils
  libh2o-dev libwslay-dev libssl-dev libjwt-dev libjansson-dev
  libtoml11-dev libsodium-dev libcmocka-dev libcurl4-openssl-dev libyaml-dev libsqlite3-dev openssl
  python3 python3-pytest python3-requests python3-websocket
  clang libclang-rt-14-dev
  curl procps iproute2 iptables faketime
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
