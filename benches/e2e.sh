#!/usr/bin/env bash
# End-to-end benchmark on generated D365-shaped data (100k invoices, ~1M lines by default):
# import + validate + post + commit, full exports, e-invoices, peak memory, the bare-csv floor,
# and DuckDB doing the same load-and-check. Prints a table; numbers are measured, not asserted.
#
#   benches/e2e.sh [INVOICES]        (needs: a release build, /usr/bin/time, pip for duckdb)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
dir=${BENCH_DIR:-/tmp/invoiceflow-bench}
bin=target/release/invoiceflow
cargo build --release --quiet
cargo build --release --quiet --example csv_floor
rm -rf "$dir" && mkdir -p "$dir"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr)"
$bin generate --invoices "$n" --seed 1 --parquet --out "$dir/data" 2>&1 | sed 's/^/  /'
h="$dir/data/SalesInvoiceHeaderV2.csv"; l="$dir/data/BusinessDocumentSalesInvoiceLineItem.csv"; m="$dir/data/master"
lines=$(($(wc -l < "$l") - 1))
echo "input: $n invoices, $lines lines, $(du -m "$h" | cut -f1) + $(du -m "$l" | cut -f1) MB"

# Runs a command, prints wall seconds and peak RSS (MB) as "SECONDS MB".
measure() {
  /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" > "$dir/out.json" 2> "$dir/err.txt" || { cat "$dir/err.txt"; exit 1; }
  awk '{printf "%s %.0f\n", $1, $2/1024}' "$dir/time.txt"
}
row() { printf "%-44s %8s s %10s/s %7s MB\n" "$1" "$2" "$3" "$4"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }

floor=$(target/release/examples/csv_floor "$h" "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
printf "%-44s %8s %12s %10s\n" "stage" "wall" "throughput" "peak RSS"
row "floor: bare csv ByteRecord loop" "$floor" "$(rate "$lines" "$floor") lines" "-"

read -r s mb < <(measure $bin import --quiet --json --dry-run --master "$m" "$h" "$l"); echo
row "import + validate (dry run)" "$s" "$(rate "$lines" "$s") lines" "$mb"
validate=$s
read -r s mb < <(measure $bin import --quiet --json --dry-run --master "$m" "${h%.csv}.parquet" "${l%.csv}.parquet"); echo
row "import + validate (dry run), Parquet input" "$s" "$(rate "$lines" "$s") lines" "$mb"
read -r s mb < <(measure $bin import --quiet --json --pro-forma --master "$m" "$h" "$l"); echo
row "import + validate + post (compute only)" "$s" "$(rate "$lines" "$s") lines" "$mb"
post=$s
read -r s mb < <(measure $bin import --quiet --json --master "$m" --store "$dir/store.db" "$h" "$l"); echo
row "import + validate + post + durable commit" "$s" "$(rate "$lines" "$s") lines" "$mb"
commit=$s
for fmt in parquet csv; do
  read -r s mb < <(measure $bin export --json --store "$dir/store.db" --entity BusinessDocumentSalesInvoiceLineItem --format $fmt --out "$dir/$fmt"); echo
  row "full $fmt export, lines entity" "$s" "$(rate "$lines" "$s") rows" "$mb"
done
for syntax in ubl cii; do
  read -r s mb < <(measure $bin einvoice --json --store "$dir/store.db" --syntax $syntax --out "$dir/$syntax"); echo
  docs=$(python3 -c 'import json; print(json.load(open("'"$dir/out.json"'"))["einvoices"][0]["documents"])')
  row "$syntax e-invoices (written + checked)" "$s" "$(rate "$docs" "$s") docs" "$mb"
done
echo
awk -v a="$validate" -v b="$post" -v c="$commit" -v f="$floor" 'BEGIN { printf "ratio to the floor: validate %.1fx, post %.1fx, commit %.1fx\n", a/f, b/f, c/f }'

if python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check duckdb >/dev/null 2>&1; then
  python3 - "$h" "$l" <<'PY'
import sys, time, duckdb
h, l = sys.argv[1], sys.argv[2]
t = time.time()
con = duckdb.connect()
con.execute(f"CREATE TABLE h AS SELECT * FROM read_csv('{h}', header=true, all_varchar=false)")
con.execute(f"CREATE TABLE l AS SELECT * FROM read_csv('{l}', header=true, all_varchar=false)")
bad_keys = con.execute("SELECT count(*) FROM (SELECT INVOICEID, LINECREATIONSEQUENCENUMBER FROM l GROUP BY 1, 2 HAVING count(*) > 1)").fetchone()[0]
orphans = con.execute("SELECT count(*) FROM l LEFT JOIN h ON h.INVOICENUMBER = l.INVOICEID WHERE h.INVOICENUMBER IS NULL").fetchone()[0]
mismatch = con.execute("""SELECT count(*) FROM h JOIN (SELECT INVOICEID, sum(LINEAMOUNT) AS net FROM l GROUP BY 1) s
                          ON s.INVOICEID = h.INVOICENUMBER WHERE abs(h.TOTALINVOICEAMOUNT - h.TOTALTAXAMOUNT - s.net) > 0.001""").fetchone()[0]
lines = con.execute("SELECT count(*) FROM l").fetchone()[0]
s = time.time() - t
print(f"{'duckdb: load both files + key, orphan, total checks':<44} {s:8.2f} s {lines / s:10.0f} lines/s  (dup keys {bad_keys}, orphans {orphans}, total mismatches {mismatch})")
PY
else
  echo "duckdb: not installed (pip install duckdb) — comparison skipped"
fi
