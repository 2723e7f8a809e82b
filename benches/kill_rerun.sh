#!/usr/bin/env bash
# Kills a durable import with SIGKILL at random moments, re-runs it each time and checks that the
# store's exports (headers, lines, ledger, open items) equal those of a clean run.
#
#   benches/kill_rerun.sh [KILLS] [INVOICES]     # default 30 kills of a 10,000-invoice import
#
# Prints each kill's moment and the change version it left, then how many re-runs matched.
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
"$bin" "${args[@]}" --store "$dir/clean.db" >/dev/null || [ $? -eq 3 ]
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
echo "$same of $kills re-runs gave the exports of the clean run; $mid kills landed between the first and the last commit"
[ "$same" -eq "$kills" ]
