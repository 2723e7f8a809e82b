#!/usr/bin/env bash
# End-to-end benchmark on generated full-width D365 data (every field of SalesInvoiceHeaderV2
# and BusinessDocumentSalesInvoiceLineItem, as DMF writes them; 100k invoices, ~1.04M lines by
# default): the bare-csv floor, the peers (polars and DuckDB doing the same checks, from
# ../shared/tools), then invoiceflow's stages: import + validate, + posting computed, + durable
# commit, lines in header order and not, Parquet input, exports, e-invoices. Wall time and peak
# RSS of every step, all in one run (the machine is shared: only figures of one run compare).
# Numbers are measured, never asserted.
#
#   benches/e2e.sh [INVOICES]
#     needs: a release build (made here), /usr/bin/time; pip for polars and duckdb (installed
#     here when missing; a peer that cannot be installed is reported and skipped)
#     BENCH_DIR=DIR    where data and outputs go (default /tmp/invoiceflow-bench)
#     PEERS=DIR        where peer_polars.py / peer_duckdb.py are (default ../shared/tools)
#     SKIP_EINVOICE=1  leaves out the e-invoice rows (the slowest)
#     ROUNDS=N         also runs the floor, each peer and the pro forma import in turn N times
#                      and reports their medians and in how many rounds we were ahead (one run
#                      each is at the mercy of the machine's noise; default 1: not done)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
dir=${BENCH_DIR:-/tmp/invoiceflow-bench}
peers=${PEERS:-../shared/tools}
bin=target/release/invoiceflow
cargo build --release --quiet
cargo build --release --quiet --example csv_floor --example fs_floor --example parquet_floor
rm -rf "$dir" && mkdir -p "$dir"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
$bin generate --invoices "$n" --seed 1 --parquet --out "$dir/data" > /dev/null 2>&1
$bin generate --invoices "$n" --seed 1 --unsorted --out "$dir/unsorted" > /dev/null 2>&1
h="$dir/data/SalesInvoiceHeaderV2.csv"; l="$dir/data/BusinessDocumentSalesInvoiceLineItem.csv"; m="$dir/data/master"
hu="$dir/unsorted/SalesInvoiceHeaderV2.csv"; lu="$dir/unsorted/BusinessDocumentSalesInvoiceLineItem.csv"
lines=$(($(wc -l < "$l") - 1))
echo "input: $n invoices, $lines lines; $(head -1 "$h" | tr ',' '\n' | wc -l) header and $(head -1 "$l" | tr ',' '\n' | wc -l) line columns; $(du -m "$h" | cut -f1) + $(du -m "$l" | cut -f1) MB"
echo

# Runs a command; prints "SECONDS MB" (wall, peak RSS). Its stdout goes to $dir/out.txt.
measure() {
  /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" > "$dir/out.txt" 2> "$dir/err.txt" || {
    rc=$?
    # Exit 3 (some rows rejected) is an outcome, not a failure.
    if [ $rc -ne 3 ]; then cat "$dir/err.txt" >&2; exit 1; fi
  }
  tail -1 "$dir/time.txt" | awk '{printf "%s %.0f\n", $1, $2/1024}'
}
row() { printf "%-52s %7s s %16s %8s MB\n" "$1" "$2" "$3" "$4"; }
rate() { awk -v n="$1" -v s="$2" -v u="$3" 'BEGIN { if (s > 0) printf "%.0fk %s/s", n / s / 1000, u; else print "-" }'; }
printf "%-52s %9s %16s %11s\n" "step" "wall" "throughput" "peak RSS"

# The floor's own timing of its loop, from what it printed (in $dir/out.txt).
floor_seconds() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$dir/out.txt"; }
read -r s mb < <(measure target/release/examples/csv_floor "$h" "$l")
floor=$(floor_seconds)
row "floor: bare csv ByteRecord loop, both files" "$floor" "$(rate "$lines" "$floor" lines)" "$mb"

# A peer's own timing of read + validate + post, from the last line it prints.
peer_seconds() {
  python3 - "$1" <<'PY'
import re, sys
t = dict(re.findall(r"(\S+)=([0-9.]+)s", sys.argv[1]))
print(f"{float(t['read']) + float(t['validate+post']):.2f}")
PY
}
# The peers: read both files, type as decimals, line nets, VAT per rate, header totals,
# orphans, duplicate keys, then Parquet. Their "read + validate + post" compares with our
# "import + validate + post"; their total includes writing Parquet.
peer_rw=()
for peer in polars duckdb; do
  script="$peers/peer_$peer.py"
  if [ ! -f "$script" ]; then echo "$peer: $script not found (PEERS=DIR) — skipped"; continue; fi
  if ! python3 -c "import $peer" 2>/dev/null && ! python3 -m pip install --quiet --disable-pip-version-check "$peer" >/dev/null 2>&1; then
    echo "$peer: not installed and pip could not install it — skipped"; continue
  fi
  read -r s mb < <(measure python3 "$script" "$h" "$l" "$dir/peer-$peer" --threads "$(nproc)")
  line=$(tail -1 "$dir/out.txt")
  rv=$(peer_seconds "$line")
  row "$peer: read + validate + post (of its total)" "$rv" "$(rate "$lines" "$rv" lines)" "-"
  row "$peer: the whole script, with Parquet out" "$s" "$(rate "$lines" "$s" lines)" "$mb"
  echo "    ($peer $(python3 -c "import $peer; print($peer.__version__)" 2>/dev/null): $line)"
  peer_rw+=("$peer=$rv")
done

read -r s mb < <(measure $bin import --quiet --json --dry-run --master "$m" "$h" "$l")
row "import + validate (dry run)" "$s" "$(rate "$lines" "$s" lines)" "$mb"; validate=$s
read -r s mb < <(measure $bin import --quiet --json --dry-run --master "$m" "$hu" "$lu")
row "import + validate, lines not in header order" "$s" "$(rate "$lines" "$s" lines)" "$mb"
read -r s mb < <(measure $bin import --quiet --json --dry-run --master "$m" "${h%.csv}.parquet" "${l%.csv}.parquet")
row "import + validate, Parquet input" "$s" "$(rate "$lines" "$s" lines)" "$mb"
read -r s mb < <(measure $bin import --quiet --json --pro-forma --master "$m" "$h" "$l")
row "import + validate + post (computed, no store)" "$s" "$(rate "$lines" "$s" lines)" "$mb"; post=$s
read -r s mb < <(measure $bin import --quiet --json --pro-forma --threads 1 --master "$m" "$h" "$l")
row "  the same on 1 thread" "$s" "$(rate "$lines" "$s" lines)" "$mb"
read -r s mb < <(measure $bin import --quiet --json --master "$m" --store "$dir/store.db" "$h" "$l")
row "import + validate + post + durable commit" "$s" "$(rate "$lines" "$s" lines)" "$mb"; commit=$s
echo "    (ledger entries: $(grep -o '"ledger_entries":[0-9]*' "$dir/out.txt" | tail -1 | cut -d: -f2); store $(du -m "$dir/store.db" | cut -f1) MB)"
read -r s mb < <(measure $bin import --quiet --json --ledger-detail summary --master "$m" --store "$dir/store-summary.db" "$h" "$l")
row "  the same, ledger summarised per account" "$s" "$(rate "$lines" "$s" lines)" "$mb"
echo "    (ledger entries: $(grep -o '"ledger_entries":[0-9]*' "$dir/out.txt" | tail -1 | cut -d: -f2); store $(du -m "$dir/store-summary.db" | cut -f1) MB)"
rm -f "$dir"/store-summary.db*
for fmt in parquet csv; do
  read -r s mb < <(measure $bin export --json --store "$dir/store.db" --entity BusinessDocumentSalesInvoiceLineItem --format $fmt --out "$dir/$fmt")
  row "full $fmt export, line entity" "$s" "$(rate "$lines" "$s" rows)" "$mb"
  if [ $fmt = parquet ]; then
    # The encoder alone: the same rows, as Arrow batches built beforehand, written again with
    # the export's properties from one thread (its memory holds them all: no RSS shown).
    measure target/release/examples/parquet_floor "$dir"/parquet/*.parquet > /dev/null
    s=$(floor_seconds)
    row "  floor: the Parquet writer alone, same rows" "$s" "$(rate "$lines" "$s" rows)" "-"
  fi
done
if [ "${SKIP_EINVOICE:-0}" != 1 ]; then
  docs_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["einvoices"][0]["documents"])' "$dir/out.txt"; }
  for syntax in ubl cii; do
    read -r s mb < <(measure $bin einvoice --json --store "$dir/store.db" --syntax $syntax --dry-run)
    row "$syntax e-invoices built + checked (--dry-run)" "$s" "$(rate "$(docs_of)" "$s" docs)" "$mb"
    read -r s mb < <(measure $bin einvoice --json --store "$dir/store.db" --syntax $syntax --out "$dir/$syntax")
    docs=$(docs_of)
    row "$syntax e-invoices (built + checked + written)" "$s" "$(rate "$docs" "$s" docs)" "$mb"
    # The file system alone: the same files published the same way, nothing built.
    # (Its memory holds every file, read before the timing: no RSS shown.)
    measure target/release/examples/fs_floor "$dir/$syntax" "$dir/$syntax-floor" > /dev/null
    s=$(floor_seconds)
    row "  floor: the same files written, synced, renamed" "$s" "$(rate "$docs" "$s" docs)" "-"
    rm -rf "$dir/$syntax-floor"
  done
fi
echo
awk -v a="$validate" -v b="$post" -v c="$commit" -v f="$floor" \
  'BEGIN { printf "to the floor: validate %.1fx, post %.1fx (target 1.5x), commit %.1fx (target 3x)\n", a/f, b/f, c/f }'
for p in "${peer_rw[@]}"; do
  awk -v name="${p%%=*}" -v t="${p#*=}" -v b="$post" \
    'BEGIN { printf "to %s (read + validate + post): %.2fx (below 1 is ahead)\n", name, b/t }'
done

# Head to head: the floor, each peer and the pro forma import in turn, ROUNDS times.
rounds=${ROUNDS:-1}
if [ "$rounds" -gt 1 ]; then
  median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
  floors=(); ours=(); declare -A theirs=() ahead=()
  for r in $(seq 1 "$rounds"); do
    measure target/release/examples/csv_floor "$h" "$l" > /dev/null
    f=$(floor_seconds)
    declare -A now=()
    for p in "${peer_rw[@]}"; do
      peer=${p%%=*}
      measure python3 "$peers/peer_$peer.py" "$h" "$l" "$dir/peer-$peer" --threads "$(nproc)" > /dev/null
      now[$peer]=$(peer_seconds "$(tail -1 "$dir/out.txt")")
    done
    read -r s _ < <(measure $bin import --quiet --json --pro-forma --master "$m" "$h" "$l")
    floors+=("$f"); ours+=("$s")
    line="round $r: floor $f s, pro forma $s s"
    for peer in "${!now[@]}"; do
      theirs[$peer]="${theirs[$peer]:-} ${now[$peer]}"
      if awk -v a="$s" -v b="${now[$peer]}" 'BEGIN { exit !(a < b) }'; then ahead[$peer]=$((${ahead[$peer]:-0} + 1)); fi
      line="$line, $peer ${now[$peer]} s"
    done
    echo "$line"
  done
  mf=$(median "${floors[@]}"); mo=$(median "${ours[@]}")
  awk -v f="$mf" -v o="$mo" -v r="$rounds" \
    'BEGIN { printf "medians of %d rounds: floor %.3f s, pro forma %.3f s = %.1fx the floor (target 1.5x)\n", r, f, o, o / f }'
  for peer in "${!theirs[@]}"; do
    # shellcheck disable=SC2086
    mp=$(median ${theirs[$peer]})
    awk -v name="$peer" -v t="$mp" -v o="$mo" -v a="${ahead[$peer]:-0}" -v r="$rounds" \
      'BEGIN { printf "  %s: median %.2f s; pro forma %.2fx of it, ahead in %d of %d rounds\n", name, t, o / t, a, r }'
  done
fi

# The memory target at ten times the size: BIG=N generates N invoices (1000000: ~10.4M lines,
# ~3 GB a data set), in header order and not, and imports each pro forma: peak RSS against
# 1 GiB. One data set on disk at a time; removed after.
if [ -n "${BIG:-}" ]; then
  echo
  for order in sorted unsorted; do
    big="$dir/big-$order"
    flag=""; [ "$order" = unsorted ] && flag="--unsorted"
    # shellcheck disable=SC2086
    $bin generate --invoices "$BIG" --seed 3 $flag --out "$big" > /dev/null 2>&1
    big_lines=$(($(wc -l < "$big/BusinessDocumentSalesInvoiceLineItem.csv") - 1))
    read -r s mb < <(measure $bin import --quiet --json --pro-forma --master "$big/master" \
      "$big/SalesInvoiceHeaderV2.csv" "$big/BusinessDocumentSalesInvoiceLineItem.csv")
    row "$BIG invoices ($big_lines lines), $order: pro forma" "$s" "$(rate "$big_lines" "$s" lines)" "$mb"
    awk -v mb="$mb" 'BEGIN { printf "  peak %.0f MB of the 1024 MB target: %s\n", mb, (mb <= 1024) ? "within" : "OVER" }'
    rm -rf "$big"
  done
fi
