"""Routing quality of the seeded keyword auto-rules on the labelled citizen messages in ../shared/eval-data.

Run: .venv/bin/python -m benchmarks.routing_rules [path/to/dev.csv]
The data is read at run time and never copied into the project (see the data's README).
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from pathlib import Path

from handlers.directory import load_seed
from handlers.routing import FALLBACK_SECTOR, rule_matches
from storage.models import AutoRule

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "dev.csv"


def seeded_rules() -> list[AutoRule]:
    return [
        AutoRule(position=n, name=r["name"], keywords="\n".join(r["keywords"]), sector_code=r["sector"])
        for n, r in enumerate(load_seed()["rules"])
    ]


def route(rules: list[AutoRule], text: str) -> str:
    return next((r.sector_code or FALLBACK_SECTOR for r in rules if rule_matches(r, text)), FALLBACK_SECTOR)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rules = seeded_rules()
    started = time.perf_counter()
    predicted = [route(rules, row["text"]) for row in rows]
    elapsed = time.perf_counter() - started
    truth = [row["sector"] for row in rows]
    sectors = sorted(set(truth) | set(predicted))
    out = sys.stdout.write
    out(f"command: .venv/bin/python -m benchmarks.routing_rules {path}\n")
    out(f"messages: {len(rows)}, routed in {elapsed:.2f} s ({len(rows) / elapsed:.0f} messages/s)\n")
    correct = sum(p == t for p, t in zip(predicted, truth, strict=True))
    out(f"accuracy: {correct / len(rows):.3f}\n")
    f1s = []
    out(f"{'sector':<12} {'support':>7} {'precision':>9} {'recall':>7} {'f1':>6}\n")
    support = Counter(truth)
    for sector in sectors:
        tp = sum(p == t == sector for p, t in zip(predicted, truth, strict=True))
        fp = sum(p == sector != t for p, t in zip(predicted, truth, strict=True))
        fn = sum(t == sector != p for p, t in zip(predicted, truth, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if support[sector]:
            f1s.append(f1)
        out(f"{sector:<12} {support[sector]:>7} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f}\n")
    out(f"macro-F1 over sectors present in the data: {sum(f1s) / len(f1s):.3f}\n")
    by_source = Counter(row["source"] for row in rows)
    for source in sorted(by_source):
        hits = sum(p == row["sector"] for p, row in zip(predicted, rows, strict=True) if row["source"] == source)
        out(f"accuracy on {source}: {hits / by_source[source]:.3f} ({by_source[source]} messages)\n")


if __name__ == "__main__":
    main()
