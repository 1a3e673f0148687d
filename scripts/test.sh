#!/usr/bin/env bash
# The test command (README): builds the solution and runs every test project, then prints
# "N passed, N failed" counted from the TRX reports the runs wrote.
set -uo pipefail
cd "$(dirname "$0")/.."

# The integration tests start a throwaway PostgreSQL and redis-server of their own (loopback, free
# ports, temporary folders); they need the server packages, which a fresh Debian machine lacks.
need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
command -v redis-server >/dev/null || need+=(redis-server)
# The browser tests drive Debian's Chromium (never a downloaded one); the gateway's build runs npm.
[ -x /usr/bin/chromium ] || need+=(chromium)
# A Korean font, so the pages' Korean text shows in the screenshots the browser tests save.
compgen -G "/usr/share/fonts/truetype/nanum/*" >/dev/null || need+=(fonts-nanum)
command -v npm >/dev/null || need+=(nodejs npm)
# Counts the results from the test reports (below), and renders the ECS templates.
command -v python3 >/dev/null || need+=(python3)
# The failover and shutdown tests signal real processes with kill(1) (procps; not in a minimal image).
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || need+=(procps)
# The deployment tests run deploy/ecs/deploy.sh with Debian's AWS CLI against a loopback stand-in for AWS.
[ -x /usr/bin/aws ] || need+=(awscli)
if [ ${#need[@]} -gt 0 ]; then
    echo "Installing ${need[*]} for the tests"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null \
        || { echo "Could not install ${need[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

results="$(pwd)/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

dotnet build TicketQueue.sln -c Release -warnaserror --nologo -v minimal || { echo "0 passed, 1 failed"; exit 1; }

# Passed and failed of the TRX reports under a folder: each report's <Counters> holds the real totals.
count() {
    python3 - "$1" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = 0
for path in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
print(passed, failed)
PY
}

status=0
passed=0
failed=0
for project in tests/*/; do
    name=$(basename "$project")
    echo "=== $name"
    dotnet test --project "$project" -c Release --no-build \
        --results-directory "$results/$name" --report-xunit-trx --report-xunit-trx-filename "$name.trx"
    code=$?
    read -r p f < <(count "$results/$name")
    if [ "$code" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        # The run failed, yet no report names a failing test: the test process crashed (and wrote no
        # report) or found nothing to run. Its tests must not silently drop out of the count.
        echo "$name: the test run failed (exit code $code) without a report of a failing test; counted as one failure."
        f=1
    fi
    [ "$code" -ne 0 ] && status=1
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
done

if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "No test results were found."
    status=1
    failed=1
fi
[ "$failed" -gt 0 ] && status=1

echo "${passed} passed, ${failed} failed"
exit $status
