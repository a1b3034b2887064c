"""Clean a sales table using only the raw wfc contract (no wfc_client)."""

import csv
import json
import os
import sys

params = json.loads(os.environ["WFC_PARAMS"])
(source,) = json.loads(os.environ["WFC_INPUT_PATHS"])["table"]
out_path = os.path.join(os.environ["WFC_RUN_DIR"], "clean.csv")

with open(source, newline="", encoding="utf-8") as f:
    rows = [[cell.strip().lower() for cell in row] for row in csv.reader(f, delimiter=params["delimiter"])]
rows = [row for row in rows if any(row)]
if not rows:
    sys.exit("input table is empty")
header, body = rows[0], rows[1:]
missing = {"units", "price"} - set(header)
if missing:
    sys.exit(f"input table lacks columns: {sorted(missing)}")
kept, dropped = [], 0
for row in body:
    if params["drop_incomplete"] and any(cell == "" for cell in row):
        dropped += 1
        continue
    record = dict(zip(header, row, strict=False))
    record["revenue"] = f"{float(record['units'] or 0) * float(record['price'] or 0):.2f}"
    kept.append(record)

with open(out_path, "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, fieldnames=[*header, "revenue"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
print(f"sample {os.environ.get('WFC_SAMPLE')}: kept {len(kept)} rows, dropped {dropped}")
