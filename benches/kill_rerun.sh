#!/usr/bin/env bash
# Kills a durable import with SIGKILL at random moments, re-runs it each time and checks that the
# store's exports (headers, lines, ledger, open items) equal those of a clean run; then kills an
# export job (the line entity, CSV, with a change-tracking job name) the same way and checks that
# its re-run publishes the clean run's file, and that a third run finds nothing new.
#
#   benches/kill_rerun.sh [KILLS] [INVOICES]     # default 30 kills of each, 10,000 invoices
#
# Prints each kill's moment and what it left, then how many re-runs matched.
set -euo pipefail
kills=${1:-30}; n=${2:-10000}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/invoiceflow
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$bin" generate --invoices "$n" --seed 3 --out "$dir/data" >/dev/null
args=(import --quiet --invoices-per-batch 50 --master "$dir/data/master"
  "$dir/data/SalesInvoiceHeaderV2.csv" "$dir/data/BusinessDocumentSalesInvoiceLineItem.csv")
exports() { # STORE OUT
  for e in SalesInvoiceHeaderV2 BusinessDocumentSalesInvoiceLineItem GeneralJournalAccountEntry CustomerTransaction; do
    "$bin" export --store "$1" --entity $e --format csv --out "$2" >/dev/null 2>&1
  done
}
version() { # STORE: the change version committed (0 when none)
  python3 -c "import sqlite3, sys
try:
    c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
    print(c.execute(\"SELECT value FROM meta WHERE key = 'change_version'\").fetchone()[0])
except Exception:
    print(0)" "$1"
}
start=$(date +%s%N)
"$bin" "${args[@]}" --store "$dir/clean.db" >/dev/null 2>&1 || [ $? -eq 3 ]
ms=$(( ($(date +%s%N) - start) / 1000000 ))
exports "$dir/clean.db" "$dir/clean"
total=$(version "$dir/clean.db")
echo "clean run: ${ms} ms, change version $total"
same=0; mid=0
for i in $(seq 1 "$kills"); do
  rm -rf "$dir"/k.db* "$dir/k"
  at=$(( RANDOM % (ms + 1) ))
  "$bin" "${args[@]}" --store "$dir/k.db" >/dev/null 2>&1 & pid=$!
  sleep "$(awk -v m="$at" 'BEGIN { printf "%.3f", m / 1000 }')"
  kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  v=$(version "$dir/k.db")
  if [ "$v" -gt 0 ] && [ "$v" -lt "$total" ]; then mid=$((mid + 1)); fi
  "$bin" "${args[@]}" --store "$dir/k.db" >/dev/null 2>&1 || true
  exports "$dir/k.db" "$dir/k"
  if diff -rq "$dir/clean" "$dir/k" >/dev/null; then same=$((same + 1)); r=same; else r=DIFFERENT; fi
  echo "kill $i at ${at} ms: version $v committed; the re-run's exports: $r"
done
echo "import: $same of $kills re-runs gave the exports of the clean run; $mid kills landed between the first and the last commit"
[ "$same" -eq "$kills" ]

e=BusinessDocumentSalesInvoiceLineItem
job() { # NAME OUT [--json]
  "$bin" export --store "$dir/clean.db" --entity $e --format csv --job "$1" --out "$2" "${@:3}" 2>/dev/null
}
start=$(date +%s%N)
job clean "$dir/job-clean" >/dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "clean export job: ${ms} ms"
same=0
for i in $(seq 1 "$kills"); do
  at=$(( RANDOM % (ms + 1) ))
  # The binary itself in the background (a function would run in a subshell that the kill
  # would hit instead).
  "$bin" export --store "$dir/clean.db" --entity $e --format csv --job "k$i" --out "$dir/job-k" >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v m="$at" 'BEGIN { printf "%.3f", m / 1000 }')"
  kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  published=$( (find "$dir/job-k" -maxdepth 1 -type f ! -name '.*' 2>/dev/null || true) | wc -l)
  job "k$i" "$dir/job-k" >/dev/null
  third=$(job "k$i" "$dir/job-k" --json | grep -o '"rows":[0-9]*' | cut -d: -f2)
  r=DIFFERENT
  if diff -q <(ls "$dir/job-clean") <(ls "$dir/job-k") >/dev/null && [ "$third" = 0 ]; then
    f=$(ls "$dir/job-clean"); cmp -s "$dir/job-clean/$f" "$dir/job-k/$f" && { r=same; same=$((same + 1)); }
  fi
  echo "export kill $i at ${at} ms: $published file(s) published when killed; the re-run: $r; a third run: $third rows"
  rm -rf "$dir/job-k"
done
echo "export job: $same of $kills re-runs published the clean run's file and nothing twice"
[ "$same" -eq "$kills" ]
