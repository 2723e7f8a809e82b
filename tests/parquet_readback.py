#!/usr/bin/env python3
"""Reads invoiceflow's Parquet exports back with an independent reader (pyarrow) and compares
them with the CSV exports of the same store: same rows, same exact decimals, same dates.

Usage: python3 tests/parquet_readback.py [path/to/invoiceflow]   (run by .ci/run)
"""
import csv
import datetime
import decimal
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

ENTITIES = [
    "SalesInvoiceJournalHeader", "SalesInvoiceHeaderV2", "BusinessDocumentSalesInvoiceLineItem",
    "SalesInvoiceLineV3", "FreeTextInvoiceHeader", "FreeTextInvoiceLine",
    "GeneralJournalAccountEntry", "CustomerTransaction",
]


def run(binary, *args):
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{binary} {' '.join(args)} failed with exit code {done.returncode}:\n{done.stderr}")


def same(csv_text, value):
    if value is None:
        return csv_text == ""
    if isinstance(value, decimal.Decimal):
        return csv_text != "" and decimal.Decimal(csv_text) == value
    if isinstance(value, datetime.date):
        return csv_text == value.isoformat()
    if isinstance(value, bool):
        return csv_text in (("Yes", "true", "1") if value else ("No", "false", "0"))
    if isinstance(value, int):
        return csv_text != "" and int(csv_text) == value
    return csv_text == value


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/invoiceflow"
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(binary, "generate", "--invoices", "400", "--seed", "5", "--customers", "150", "--out", str(tmp / "data"))
        store = str(tmp / "s.db")
        run(binary, "import", "--quiet", "--master", str(tmp / "data" / "master"), "--store", store,
            str(tmp / "data" / "SalesInvoiceHeaderV2.csv"), str(tmp / "data" / "BusinessDocumentSalesInvoiceLineItem.csv"))
        root = Path(__file__).resolve().parent.parent
        run(binary, "import", "--quiet", "--master", str(root / "samples" / "master"), "--store", store,
            str(root / "samples" / "d365" / "FreeTextInvoiceHeader.csv"), str(root / "samples" / "d365" / "FreeTextInvoiceLine.csv"))
        for fmt in ("csv", "parquet"):
            run(binary, "export", "--store", store, "--format", fmt, "--out", str(tmp / fmt),
                *[a for e in ENTITIES for a in ("--entity", e)])
        for entity in ENTITIES:
            [csv_file] = list((tmp / "csv").glob(f"{entity}_full_*.csv"))
            [pq_file] = list((tmp / "parquet").glob(f"{entity}_full_*.parquet"))
            with open(csv_file, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
            header, rows = rows[0], rows[1:]
            table = pq.read_table(pq_file)
            problems = []
            if table.column_names != header:
                problems.append(f"columns differ: {table.column_names} vs {header}")
            if table.num_rows != len(rows) or not rows:
                problems.append(f"{table.num_rows} Parquet rows vs {len(rows)} CSV rows")
            decimals = sum(1 for t in table.schema.types if str(t).startswith("decimal128"))
            if entity != "FreeTextInvoiceHeader" and decimals == 0:
                problems.append("no decimal128 column")
            columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    if c < len(columns) and not same(text, columns[c][r]):
                        problems.append(f"row {r + 1} {header[c]}: csv {text!r} vs parquet {columns[c][r]!r}")
                        break
                if len(problems) > 5:
                    break
            if problems:
                failed += 1
                print(f"FAIL {entity}: " + "; ".join(problems[:5]))
            else:
                passed += 1
                print(f"ok   {entity}: {len(rows)} rows, {table.num_columns} columns ({decimals} decimal128)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
