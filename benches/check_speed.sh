#!/usr/bin/env bash
# The speed of `invoiceflow check` on one core (issue 14: at least 20k documents/s over typical
# single-invoice files): generated UBL and CII e-invoices of ~10 lines each, checked in memory
# (`examples/check_stages`: the XML tree, tree + model, the whole check; best of 9) and through
# the command (`taskset -c 0 invoiceflow check DIR`, ROUNDS times; with OTHER given, alternating
# with that binary, so that both see the same moments of a shared machine). Prints the minimum
# and median of each and documents per second. Numbers are measured, never asserted.
#
#   benches/check_speed.sh [DOCUMENTS] [ROUNDS] [OTHER]
#     DOCUMENTS  invoices generated, one document each per syntax (default 1500)
#     ROUNDS     runs through the command per binary (default 15)
#     OTHER      another invoiceflow binary to alternate with (a build of an earlier commit)
#     BENCH_DIR=DIR  where data goes (default /tmp/invoiceflow-check-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1500}
rounds=${2:-15}
other=${3:-}
dir=${BENCH_DIR:-/tmp/invoiceflow-check-bench}
bin=target/release/invoiceflow
cargo build --release --quiet
cargo build --release --quiet --example check_stages
rm -rf "$dir" && mkdir -p "$dir"
echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
$bin generate --invoices "$n" --seed 1 --out "$dir/data" > /dev/null 2>&1
$bin import --quiet --master "$dir/data/master" --store "$dir/store.db" \
  "$dir/data/SalesInvoiceHeaderV2.csv" "$dir/data/BusinessDocumentSalesInvoiceLineItem.csv" > /dev/null
for syntax in ubl cii; do
  $bin einvoice --store "$dir/store.db" --master "$dir/data/master" --syntax "$syntax" --out "$dir/$syntax" > /dev/null 2>&1
done
for syntax in ubl cii; do
  docs=$(find "$dir/$syntax" -name '*.xml' | wc -l)
  echo
  echo "$syntax: $docs documents, $(du -sm "$dir/$syntax" | cut -f1) MB"
  taskset -c 0 target/release/examples/check_stages "$dir/$syntax" 9 | tail -n +2
  python3 - "$rounds" "$dir/$syntax" "$docs" "$bin" ${other:+"$other"} <<'PY'
import statistics, subprocess, sys, time
rounds, folder, docs, bins = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
times = {b: [] for b in bins}
for _ in range(rounds):
    for b in bins:
        start = time.perf_counter()
        subprocess.run(["taskset", "-c", "0", b, "check", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[b].append(time.perf_counter() - start)
for b in bins:
    t = sorted(times[b])
    print(f"command {b}: min {t[0] * 1e3:.1f} ms ({docs / t[0]:.0f} documents/s), "
          f"median {statistics.median(t) * 1e3:.1f} ms ({docs / statistics.median(t):.0f} documents/s)")
PY
done
