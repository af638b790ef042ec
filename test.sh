#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs what the tests need from Debian's packages,
# builds warnings-as-errors, runs all test projects (and the engine-hosting ones a second time on
# PostgreSQL), and prints the summed totals of both passes as "N passed, N failed" on a line of its own.
set -euo pipefail
cd "$(dirname "$0")"

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

packages=()
command -v kcat >/dev/null 2>&1 || packages+=(kcat)
# Debian's Chromium for the billing page tests (Playwright drives it; no browser is downloaded).
[ -x /usr/bin/chromium ] || packages+=(chromium)
# pdftotext reads back the invoice PDFs.
command -v pdftotext >/dev/null 2>&1 || packages+=(poppler-utils)
# PostgreSQL for the postgres-provider tests, unless the caller already points them at a server.
if [ -z "${METERING_TEST_POSTGRES:-}" ]; then
  { command -v pg_ctlcluster >/dev/null 2>&1 && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; } || packages+=(postgresql)
fi
if ((${#packages[@]})); then
  echo "Installing ${packages[*]} from Debian's packages"
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" </dev/null
fi

# Starts a PostgreSQL cluster (no systemd here: pg_ctlcluster directly), makes sure role "metering"
# and database "metering_test" exist, and sets METERING_TEST_POSTGRES. Safe to run again.
start_postgres() {
  local version port status
  # The newest version with a cluster "main" (the package creates one), else the newest installed.
  version=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" { print $1 }' | sort -V | tail -n1)
  if [ -z "$version" ] || [ ! -x "/usr/lib/postgresql/$version/bin/postgres" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    [ -n "$version" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; return 1; }
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
      echo "Creating PostgreSQL $version cluster main"
      $sudo_cmd pg_createcluster --encoding=UTF8 "$version" main
    fi
  fi
  port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')
  status=0
  $sudo_cmd pg_ctlcluster "$version" main status >/dev/null 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    echo "Starting PostgreSQL $version cluster main on port $port"
    $sudo_cmd pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
  done
  pg_isready -h 127.0.0.1 -p "$port"
  # As the postgres superuser over the local socket (peer authentication), from a folder it can read.
  (cd / && $sudo_cmd runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres) <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'metering') THEN CREATE ROLE metering; END IF;
END $$;
-- The tests create and drop a database of their own per test.
ALTER ROLE metering WITH LOGIN CREATEDB PASSWORD 'metering';
SELECT 'CREATE DATABASE metering_test OWNER metering ENCODING ''UTF8'' LOCALE ''C'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'metering_test') \gexec
SQL
  METERING_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=metering;Password=metering;Database=metering_test"
}
if [ -z "${METERING_TEST_POSTGRES:-}" ]; then start_postgres; fi
export METERING_TEST_POSTGRES

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Metering.sln -c Release

results="$(mktemp -d)"
status=0
host=tests/Metering.Host.Tests
# Two streams, one per core: the engine-hosting tests on SQLite (the longest project, 13 minutes),
# and beside them every other project and then the engine-hosting tests again on PostgreSQL. One
# after the other they took 22 minutes; CI has 20.
dotnet test "$host" -c Release --no-build --logger "trx;LogFileName=sqlite-host.trx" --results-directory "$results" &
sqlite_host=$!
for project in tests/*/*.Tests.csproj; do
  [ "$(dirname "$project")" = "$host" ] && continue
  dotnet test "$project" -c Release --no-build --logger "trx;LogFileName=$(basename "$project" .csproj).trx" --results-directory "$results" || status=$?
done

# The engine-hosting tests again with the journal on PostgreSQL (Metering:Persistence:Provider=postgres):
# every engine gets a fresh database of its own. The cluster, PostgreSQL and projection-on-PostgreSQL
# tests chose PostgreSQL themselves and run on it in the SQLite pass, the crash test runs engines as
# processes of its own, and the secrets test searches the SQLite journal file itself, so they are not
# repeated. The page's tests stay on SQLite: they test the page, and CI has 20 minutes.
METERING_TEST_PROVIDER=postgres dotnet test "$host" -c Release --no-build \
  --filter 'FullyQualifiedName!~.ClusterTests.&FullyQualifiedName!~.PostgresPersistenceTests.&FullyQualifiedName!~.CrashSafetyTests.&FullyQualifiedName!~.ApiKeyStoreTests.&FullyQualifiedName!~.PostgresProjectionTests.&FullyQualifiedName!~.SecretsLeakTests.' \
  --logger "trx;LogFileName=postgres-host.trx" --results-directory "$results" || status=$?
wait "$sqlite_host" || status=$?

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
