#!/usr/bin/env bash
# Rolling restart of a running shiplog cluster, one node at a time, without
# losing availability: for each node, move leadership away if it leads,
# stop it (SIGTERM, by the PID in DATA/shiplogd.pid), start it again with the
# same command, wait until it serves and has caught up with the leader.
#
#   scripts/rolling-restart.sh [CONFIG]     (default cluster.toml; nodes as started by run-cluster.sh)
#
# Environment: SHIPLOGD (binary, default build-release/shiplogd), SHIPLOG_ADMIN_KEY (default: the
# config's first admin key), CATCH_UP_S (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:-${SHIPLOG_CONFIG:-cluster.toml}}"
bin="${SHIPLOGD:-build-release/shiplogd}"
catch_up="${CATCH_UP_S:-60}"
key="${SHIPLOG_ADMIN_KEY:-$(awk -F'"' '/^[[:space:]]*admin_keys/ {print $2; exit}' "$config")}"

# name http data, one line per [[node]] table
mapfile -t nodes < <(awk -F'"' '
  /^\[\[node\]\]/ {if (name) print name, http, data; name=""; http=""; data=""; inside=1; next}
  /^\[/ {if (name) print name, http, data; name=""; inside=0}
  inside && /^[[:space:]]*name[[:space:]]*=/ {name=$2}
  inside && /^[[:space:]]*http[[:space:]]*=/ {http=$2}
  inside && /^[[:space:]]*data[[:space:]]*=/ {data=$2}
  END {if (name) print name, http, data}' "$config")

# Running, and not a zombie waiting for its parent to reap it.
alive() { [ -e "/proc/$1" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$1/stat" 2>/dev/null; }
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
health() { curl -sf --max-time 2 "http://$1/health"; }

for line in "${nodes[@]}"; do
  read -r name http data <<<"$line"
  pidfile="$data/shiplogd.pid"
  [ -f "$pidfile" ] || { echo "rolling-restart: no $pidfile: was $name started by run-cluster.sh?" >&2; exit 1; }
  pid=$(cat "$pidfile")
  state=$(health "$http" | field 'd["raft"]["state"]')
  if [ "$state" = leader ]; then
    echo "rolling-restart: $name leads: moving leadership away"
    curl -sf --max-time 15 -X POST "http://$http/api/v1/cluster/transfer" -H "Authorization: Bearer $key" -d '{}' >/dev/null
    for _ in $(seq 1 50); do
      [ "$(health "$http" | field 'd["raft"]["state"]')" != leader ] && break; sleep 0.2
    done
  fi
  echo "rolling-restart: stopping $name (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && { echo "rolling-restart: $name did not stop" >&2; exit 1; }
  "$bin" --config "$config" --node "$name" >>"$data/shiplogd.log" 2>&1 &
  echo $! > "$pidfile"
  echo "rolling-restart: started $name (pid $!); waiting until it has caught up"
  ok=0
  for _ in $(seq 1 $((catch_up * 5))); do
    # Caught up: its applied index reaches what the leader had applied a moment before.
    if doc=$(health "$http") && leader=$(echo "$doc" | field 'd["raft"]["leader"]') && [ -n "$leader" ]; then
      lhttp=$(curl -sf --max-time 2 "http://$http/api/config" -H "Authorization: Bearer $key" |
              field '[m["http"] for m in d["members"] if m["name"] == d["leader"]][0]' 2>/dev/null || echo "$http")
      theirs=$(health "$lhttp" | field 'd["raft"]["applied_index"]' 2>/dev/null || echo 999999999999)
      mine=$(health "$http" | field 'd["raft"]["applied_index"]' 2>/dev/null || echo 0)
      if [ "$mine" -ge "$theirs" ]; then ok=1; break; fi
    fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || { echo "rolling-restart: $name did not catch up within ${catch_up}s" >&2; exit 1; }
  echo "rolling-restart: $name is back and caught up"
done
echo "rolling-restart: all nodes restarted"
