#!/usr/bin/env bash
# Writes the e-invoices of the bundled samples and of a generated data set (UBL and CII) and
# validates every file against the official UBL 2.1 and CII D16B schemas with xmllint.
# Usage: tests/xsd_check.sh [path/to/invoiceflow]   (run by .ci/run; needs libxml2-utils)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/invoiceflow}
xsd=${XSD_DIR:-${INVOICEFLOW_REFERENCE:-../shared/reference}/xsd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" run samples/job.toml --store "$tmp/s.db" --rejects "$tmp/rejects" --quiet 2>/dev/null
"$bin" generate --invoices 300 --seed 3 --customers 100 --out "$tmp/gen" 2>/dev/null
"$bin" import --quiet --master "$tmp/gen/master" --store "$tmp/g.db" "$tmp/gen/SalesInvoiceHeaderV2.csv" "$tmp/gen/BusinessDocumentSalesInvoiceLineItem.csv" 2>/dev/null
for db in s g; do
  for syntax in ubl cii; do
    "$bin" einvoice --store "$tmp/$db.db" --syntax $syntax --out "$tmp/$db-$syntax" 2>/dev/null
  done
done
passed=0; failed=0
check() {
  if xmllint --noout --schema "$1" "$2" 2>"$tmp/err"; then passed=$((passed + 1)); else failed=$((failed + 1)); cat "$tmp/err"; fi
}
for f in "$tmp"/*-ubl/*/*.xml; do
  if grep -q "<CreditNote " "$f"; then check "$xsd/ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd" "$f"; else check "$xsd/ubl-2.1/maindoc/UBL-Invoice-2.1.xsd" "$f"; fi
done
for f in "$tmp"/*-cii/*/*.xml; do
  check "$xsd/cii-d16b/uncefact/data/standard/CrossIndustryInvoice_100pD16B.xsd" "$f"
done
echo "xsd: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 600 ]
