"""Routing quality on the labelled citizen messages in ../shared/eval-data/dev.csv, read at run time only.

Run: .venv/bin/python -m benchmarks.routing [path/to/dev.csv]
Prints, for each contender, accuracy, macro-F1 and prediction time, and a per-sector table for the shipped model:
- the shipped model (trained only on the project's own examples) on all of dev.csv, alone and as routing uses it
  (the seeded keyword rules first, then the model, unsure guesses to «Прочее»);
- cross-region: the model trained on our examples plus one source of dev.csv, scored on the other source;
- a plain TF-IDF + logistic regression baseline trained on one source, scored on the other.
Neither the data nor a model trained on it is written anywhere.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from benchmarks.routing_rules import route, seeded_rules
from handlers.classifier import NOT_INCIDENT, Prediction, SectorClassifier, shipped_examples
from handlers.routing import MODEL_THRESHOLD, rule_matches

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "dev.csv"
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def scores(truth: Sequence[str], predicted: Sequence[str]) -> tuple[float, float, dict[str, tuple[int, float]]]:
    pairs = list(zip(truth, predicted, strict=True))
    accuracy = sum(t == p for t, p in pairs) / len(pairs)
    table: dict[str, tuple[int, float]] = {}
    for sector in sorted(set(truth)):
        tp = sum(t == p == sector for t, p in pairs)
        fp = sum(p == sector != t for t, p in pairs)
        fn = sum(t == sector != p for t, p in pairs)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        table[sector] = (tp + fn, 2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return accuracy, sum(f for _, f in table.values()) / len(table), table


def report(name: str, truth: Sequence[str], predicted: Sequence[str], seconds: float) -> dict[str, tuple[int, float]]:
    accuracy, macro, table = scores(truth, predicted)
    per_message = seconds / len(truth) * 1000
    sys.stdout.write(f"{name:<58} accuracy {accuracy:.3f}  macro-F1 {macro:.3f}  {per_message:.2f} ms/message\n")
    return table


def as_routed(
    by_rule: Sequence[str | None], predictions: Sequence[Prediction], truth: Sequence[str], threshold: float
) -> tuple[list[str | None], int]:
    """The sector each message gets (None: triage) as routing decides with `threshold`, and how many of the
    triaged have the right sector among the three buttons."""
    routed: list[str | None] = []
    in_top3 = 0
    for rule, prediction, answer in zip(by_rule, predictions, truth, strict=True):
        guesses = [s for s, _ in prediction.ranked if s != NOT_INCIDENT]
        confidence = next(p for s, p in prediction.ranked if s != NOT_INCIDENT)
        if rule is None and confidence < threshold:
            routed.append(None)  # triage: the officer chooses among the three best guesses
            in_top3 += answer in guesses[:3]
        else:
            routed.append(rule or guesses[0])
    return routed, in_top3


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = sys.stdout.write
    out(f"command: .venv/bin/python -m benchmarks.routing {path}\n")
    out(f"messages: {len(rows)} ({', '.join(f'{k} {v}' for k, v in Counter(r['source'] for r in rows).items())})\n")
    own_texts, own_sectors = shipped_examples()
    own = [(t, s) for t, s in zip(own_texts, own_sectors, strict=True) if s != NOT_INCIDENT]
    out(f"project's own examples: {len(own_texts)} ({len(own)} incidents)\n\n")

    texts, truth = [r["text"] for r in rows], [r["sector"] for r in rows]
    shipped = SectorClassifier().fit(own_texts, own_sectors)
    started = time.perf_counter()
    predicted = [p.sector for p in shipped.predict_many(texts)]
    table = report("shipped model (own examples only), all of dev.csv", truth, predicted, time.perf_counter() - started)

    for source in sorted({r["source"] for r in rows}):
        picked = [i for i, r in enumerate(rows) if r["source"] == source]
        report(f"  of which {source}", [truth[i] for i in picked], [predicted[i] for i in picked], 0.0)

    rules = seeded_rules()
    started = time.perf_counter()
    predictions = shipped.predict_many(texts)
    by_rule = [next((r.sector_code for r in rules if rule_matches(r, text)), None) for text in texts]
    elapsed = time.perf_counter() - started
    routed, in_top3 = as_routed(by_rule, predictions, truth, MODEL_THRESHOLD)
    decided = [(t, r) for t, r in zip(truth, routed, strict=True) if r is not None]
    triaged = len(routed) - len(decided)
    report(
        "as routed: rules, then the model (decided automatically)",
        [t for t, _ in decided],
        [r for _, r in decided if r is not None],
        elapsed,
    )
    sys.stdout.write(
        f"{'  sent to triage instead':<58} {triaged / len(routed):.1%} of messages; "
        f"the right sector among the 3 buttons for {in_top3 / max(triaged, 1):.1%} of them\n"
    )
    out(f"  threshold (now {MODEL_THRESHOLD}): accuracy of what is decided automatically / share sent to triage\n")
    for threshold in THRESHOLDS:
        routed_t, _ = as_routed(by_rule, predictions, truth, threshold)
        cells = []
        for source in [*sorted({r["source"] for r in rows}), None]:
            pairs = [(t, p) for t, p, r in zip(truth, routed_t, rows, strict=True) if source in (None, r["source"])]
            right = [t == p for t, p in pairs if p is not None]
            cells.append(f"{source or 'all'} {sum(right) / len(right):.3f} / {1 - len(right) / len(pairs):.1%}")
        out(f"    {threshold:.2f}   " + "   ".join(cells) + "\n")
    report("seeded keyword rules alone", truth, [route(rules, t) for t in texts], 0.0)

    sources = sorted({r["source"] for r in rows})
    for train_source in sources:
        test = [r for r in rows if r["source"] != train_source]
        train = [r for r in rows if r["source"] == train_source]
        model = SectorClassifier().fit(
            own_texts + [r["text"] for r in train], own_sectors + [r["sector"] for r in train]
        )
        started = time.perf_counter()
        predicted_x = [p.sector for p in model.predict_many([r["text"] for r in test])]
        report(
            f"own + {train_source} → {test[0]['source']}",
            [r["sector"] for r in test],
            predicted_x,
            time.perf_counter() - started,
        )
        baseline = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=2000))
        baseline.fit([r["text"] for r in train], [r["sector"] for r in train])
        started = time.perf_counter()
        predicted_b = list(baseline.predict([r["text"] for r in test]))
        report(
            f"TF-IDF + LR baseline: {train_source} → {test[0]['source']}",
            [r["sector"] for r in test],
            predicted_b,
            time.perf_counter() - started,
        )

    out("\nshipped model per sector (support, F1):\n")
    for sector, (support, f1) in table.items():
        out(f"  {sector:<12} {support:>6}  {f1:.3f}\n")


if __name__ == "__main__":
    main()
