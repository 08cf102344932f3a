#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and runs the
# three nodes of cluster.toml in the foreground. Ctrl-C stops all three
# cleanly (SIGTERM to each, by PID); their data stays in data/ for the next start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
dir=$(bash scripts/build.sh release)
config="${SHIPLOG_CONFIG:-cluster.toml}"
nodes=$(awk -F'"' '/^[[:space:]]*name[[:space:]]*=/ && seen {print $2} /^\[\[node\]\]/ {seen=1} /^\[[^[]/ {seen=0}' "$config")
mkdir -p data
pids=()
datadirs=$(awk -F'"' '/^[[:space:]]*data[[:space:]]*=/ {print $2}' "$config")
stop() {
  trap - INT TERM EXIT
  # rolling-restart.sh may have replaced nodes: their PIDs are in DATA/shiplogd.pid
  for d in $datadirs; do [ -f "$d/shiplogd.pid" ] && pids+=("$(cat "$d/shiplogd.pid")"); done
  echo "stopping: ${pids[*]}" >&2
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  exit 0
}
trap stop INT TERM EXIT
set -- $datadirs
for n in $nodes; do
  mkdir -p "$1"
  "$dir/shiplogd" --config "$config" --node "$n" > >(sed -u "s/^/[$n] /") 2>&1 &
  pids+=($!)
  echo $! > "$1/shiplogd.pid"
  shift
done
echo "shiplog: nodes $(echo $nodes) running (PIDs ${pids[*]}); API on the http addresses of $config; Ctrl-C stops them" >&2
# Wait while any node runs (rolling restarts replace our children).
while :; do
  alive=0
  for d in $datadirs; do [ -f "$d/shiplogd.pid" ] && kill -0 "$(cat "$d/shiplogd.pid")" 2>/dev/null && alive=1; done
  [ "$alive" = 1 ] || break
  sleep 1
done
