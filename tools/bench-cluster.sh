#!/usr/bin/env bash
# Three engine nodes (dotnet Metering.Host.dll, as in tests/Metering.Host.Tests/ClusterTests.cs) and a
# broker process on loopback over one PostgreSQL database. Once the nodes share the partitions, the
# load generator produces the stream flat out; the script measures events/s to durable state (first
# event counted to last, from the nodes' own metering_events_accepted_total), the CPU time of the
# three node processes per event and the bytes sent between the nodes over Akka remoting per event. Prints one JSON line on stdout; progress goes to stderr.
#
#   dotnet build -c Release
#   tools/bench-cluster.sh --colocate false|true [--accounts 1000] [--events 200000] [--partitions 24] [--seed 7]
#
# METERING_BENCH_POSTGRES: a libpq URL of a server where the user may create databases (default
# postgresql://metering:metering@127.0.0.1:5432/postgres). Database metering_bench_cluster is dropped
# and created for every run. Needs curl, jq, psql.
set -euo pipefail

colocate=false accounts=1000 events=200000 partitions=24 seed=7
while [[ $# -gt 0 ]]; do
  case "$1" in
    --colocate) colocate=$2; shift 2 ;;
    --accounts) accounts=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
host_dll=$root/src/Metering.Host/bin/Release/net10.0/Metering.Host.dll
loadgen_dll=$root/tools/Metering.LoadGen/bin/Release/net10.0/Metering.LoadGen.dll
server=${METERING_BENCH_POSTGRES:-postgresql://metering:metering@127.0.0.1:5432/postgres}
database=metering_bench_cluster
admin_key=mk_bench_cluster_admin_key_0123456789abcdef
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-cluster.XXXXXX")
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log() { echo "$(date -u +%T) $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Bytes both ways over the Akka remoting connections so far: the server side of every connection to
# a node's remoting port (bytes it sent plus bytes it received).
remoting_bytes() {
  local filter
  filter=$(printf 'sport = :%s or ' "${remoting[@]}")
  ss -tinH "( ${filter% or } )" | (grep -o 'bytes_sent:[0-9]*\|bytes_received:[0-9]*' || true) | awk -F: '{ s += $2 } END { printf "%d", s }'
}

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

psql "$server" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
connection="Host=127.0.0.1;Port=5432;Username=metering;Password=metering;Database=$database;Maximum Pool Size=20"

dotnet "$host_dll" broker --partitions "$partitions" >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  bootstrap=$(sed -n 's/.*Kafka bootstrap: \([^ ]*\).*/\1/p' "$work/broker.log" | head -1)
  [[ -n $bootstrap ]] && break
  sleep 0.5
done
[[ -n $bootstrap ]] || { echo "broker did not start" >&2; cat "$work/broker.log" >&2; exit 1; }
log "broker at $bootstrap, $partitions partitions"

remoting=($(free_port) $(free_port) $(free_port))
http=($(free_port) $(free_port) $(free_port))
node_pids=()
for i in 0 1 2; do
  mkdir -p "$work/node$i"
  env Metering__DataDir="$work/node$i" Metering__Auth__AdminKey="$admin_key" Metering__Demo__Enabled=false \
      Logging__LogLevel__Default=Warning \
      Metering__Persistence__Provider=postgres Metering__Persistence__ConnectionString="$connection" \
      Metering__Kafka__BootstrapServers="$bootstrap" \
      Metering__Cluster__Port="${remoting[$i]}" Metering__Cluster__SeedNodes__0="akka.tcp://metering@127.0.0.1:${remoting[0]}" \
      Metering__Cluster__ColocatePartitions="$colocate" \
      dotnet "$host_dll" --urls="http://127.0.0.1:${http[$i]}" >"$work/node$i.log" 2>&1 &
  pids+=($!)
  node_pids+=($!)
done

api() { curl -sf -H "Authorization: Bearer $admin_key" "http://127.0.0.1:$1$2"; }

# Ready, and the consumer group settled: every node holds partitions and all of them are held.
for _ in $(seq 1 240); do
  held=0 nodes_holding=0
  for port in "${http[@]}"; do
    n=$(api "$port" /api/v1/cluster 2>/dev/null | jq '.partitions | length' 2>/dev/null || echo 0)
    held=$((held + n)); [[ $n -gt 0 ]] && nodes_holding=$((nodes_holding + 1))
  done
  [[ $held -eq $partitions && $nodes_holding -eq 3 ]] && break
  sleep 0.5
done
[[ $held -eq $partitions && $nodes_holding -eq 3 ]] || { echo "the nodes never shared the partitions" >&2; tail -20 "$work"/node*.log >&2; exit 1; }
log "three nodes up, partitions shared (colocate=$colocate)"

# Sum of one counter over the three nodes' /metrics.
counter() {
  local total=0
  for port in "${http[@]}"; do
    # A scrape that fails under load counts 0 this time; the loop asks again.
    v=$( (curl -sf "http://127.0.0.1:$port/metrics" || true) | awk -v name="$1" '$1 ~ "^"name"(\\{|$)" { s += $2 } END { printf "%d", s }')
    total=$((total + v))
  done
  echo "$total"
}

cpu_before=0
for pid in "${node_pids[@]}"; do cpu_before=$((cpu_before + $(cpu_ticks "$pid"))); done
load_before=$(cut -d' ' -f1 /proc/loadavg)
remote_before=$(remoting_bytes)
dotnet "$loadgen_dll" produce --bootstrap "$bootstrap" --accounts "$accounts" --events "$events" --seed "$seed" >"$work/produce.log" 2>&1 &
pids+=($!)

first=""
deadline=$((SECONDS + 900))
while :; do
  accepted=$(counter metering_events_accepted_total)
  now=$(date +%s.%N)
  [[ -z $first && $accepted -gt 0 ]] && first=$now
  [[ $accepted -ge $events ]] && break
  [[ $SECONDS -lt $deadline ]] || { echo "only $accepted of $events counted" >&2; exit 1; }
  sleep 0.25
done
last=$now
cpu_after=0
for pid in "${node_pids[@]}"; do cpu_after=$((cpu_after + $(cpu_ticks "$pid"))); done
load_after=$(cut -d' ' -f1 /proc/loadavg)
remote_after=$(remoting_bytes)
tick=$(getconf CLK_TCK)

# Where each partition's consumer is and where its accounts' shards are (meaningful with co-location:
# shard id = partition).
views=$(for port in "${http[@]}"; do api "$port" /api/v1/cluster; echo; done | jq -s -c .)
misplaced=$([[ $colocate == true ]] && jq '[.[] | {self, partitions}] as $c
  | (.[0].members | map(.address as $a | (.shardIds // [])[] | {key: ., value: $a}) | from_entries) as $at
  | [$c[] | .self as $n | .partitions[] | tostring | select($at[.] != $n)] | length' <<<"$views" || echo null)
shards=$(jq -c '[.[0].members[] | .shards]' <<<"$views")
# Lines logged at Error, other than readiness probes failing while a node starts.
errors=$(cat "$work"/node*.log | grep '^fail:' | grep -vc 'HealthChecks' || true)
[[ $errors -eq 0 ]] || grep -h -A2 '^fail:' "$work"/node*.log | tail -40 >&2 || true

jq -nc --argjson colocate "$colocate" --argjson accounts "$accounts" --argjson events "$events" --argjson partitions "$partitions" \
  --argjson first "$first" --argjson last "$last" --argjson cpu "$(( cpu_after - cpu_before ))" --argjson tick "$tick" \
  --argjson duplicates "$(counter metering_events_duplicates_total)" --argjson redelivered "$(counter metering_events_redelivered_total)" \
  --argjson remote "$(( remote_after - remote_before ))" --argjson misplaced "$misplaced" --argjson shards "$shards" --argjson errors "$errors" \
  --arg load "$load_before→$load_after" --argjson nproc "$(nproc)" \
  '{colocate: $colocate, accounts: $accounts, events: $events, partitions: $partitions, processorCount: $nproc,
    eventsPerSecond: ($events / ($last - $first) | floor), cpuMicrosPerEvent: (($cpu / $tick) * 1e6 / $events * 100 | round / 100),
    seconds: (($last - $first) * 10 | round / 10), remotingBytesPerEvent: ($remote / $events * 10 | round / 10), duplicates: $duplicates, redelivered: $redelivered,
    shardsPerNode: $shards, partitionsNotBesideTheirShard: $misplaced, errorLines: $errors, loadAverage: $load}'
