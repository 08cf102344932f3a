#!/usr/bin/env bash
# Installs the Debian packages bench/run needs besides shiplog's own (scripts/install-deps.sh):
# wrk (load generator), etcd-server and etcd-client (the peer: etcd 3.4, etcdctl for etcd3.sh),
# python3-matplotlib (the plot). Idempotent: skips apt entirely when everything is present.
set -euo pipefail

PKGS=(wrk etcd-server etcd-client python3 python3-matplotlib curl procps)

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
# Debian's etcd-server package may start a system etcd on 2379/2380; the benchmark starts its own.
