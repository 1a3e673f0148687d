#!/usr/bin/env bash
# The live-position fan-out benchmark (bench/FanoutBenchmark): builds the gateway and the benchmark in Release,
# raises this shell's open-files limit to its hard limit (the benchmark and the gateway each hold one socket
# per connection), and runs it. Options go to the benchmark: bash bench/fanout.sh --connections 500 --rounds 5
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
dotnet build src/Gateway -c Release -nologo -v q
dotnet build bench/FanoutBenchmark -c Release -nologo -v q
exec dotnet bench/FanoutBenchmark/bin/Release/net10.0/TicketQueue.FanoutBenchmark.dll --no-build "$@"
