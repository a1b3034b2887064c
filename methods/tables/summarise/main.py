"""Group cleaned sales tables and total them, using the wfc_client decorator API."""

import csv
import json
from collections import defaultdict

import wfc_client as wfc


@wfc.method
def summarise(ctx):
    by = ctx.params["by"]
    units, revenue = defaultdict(int), defaultdict(float)
    rows = 0
    for path in ctx.input("table"):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                units[row[by]] += int(float(row["units"]))
                revenue[row[by]] += float(row["revenue"])
                rows += 1
    groups = sorted(revenue, key=lambda g: (-revenue[g], g))
    if ctx.params["top"]:
        groups = groups[: ctx.params["top"]]
    with ctx.output_path("summary").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([by, "units", "revenue"])
        for group in groups:
            writer.writerow([group, units[group], f"{revenue[group]:.2f}"])
    totals = {
        "rows": rows,
        "units": sum(units.values()),
        "revenue": round(sum(revenue.values()), 2),
        "samples": ctx.samples or [ctx.sample],
    }
    ctx.output_path("totals").write_text(json.dumps(totals, indent=2, sort_keys=True) + "\n")
    ctx.save_artifact("summary", "summary.csv")
    ctx.save_artifact("totals", "totals.json")
    ctx.log_metric("rows", rows)
    ctx.log_metric("revenue", totals["revenue"])
    print(f"summarised {rows} rows into {len(groups)} groups by {by}")


if __name__ == "__main__":
    wfc.run()
