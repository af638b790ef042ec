#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs what the tests need from Debian's packages,
# builds warnings-as-errors, runs all test projects, and prints the summed totals as
# "N passed, N failed" on a line of its own.
set -euo pipefail
cd "$(dirname "$0")"

packages=()
command -v kcat >/dev/null 2>&1 || packages+=(kcat)
if ((${#packages[@]})); then
  echo "Installing ${packages[*]} from Debian's packages"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Metering.sln -c Release

results="$(mktemp -d)"
status=0
dotnet test Metering.sln -c Release --no-build --logger trx --results-directory "$results" || status=$?

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
rm -rf "$results"
echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
