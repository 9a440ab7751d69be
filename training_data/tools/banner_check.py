"""Does a long banner before the letter hide the decision? Recall and false positives with and without one.

    python training_data/tools/banner_check.py [--model-dir DIR] [--file eval/NAME.jsonl]

Each message is classified as written and again with ~1,100 characters of what an HTML careers mail turns
into before its letter starts (view-in-browser line, navigation, employer blurb, the job's details) put in
front of its text. Default set: the held-out split of training_data/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from watcher.classifier import Classifier, record_to_message  # noqa: E402
from watcher.training import default_data_dir, load_corpus, split  # noqa: E402

BANNER = (
    "View this email in your browser\n\nCareers | Life at the company | Benefits | Locations | Students\n\n"
    + "Our mission is to build a more sustainable future through technology, and our people are at the heart "
    "of everything we do. With more than 12,000 colleagues in 40 countries, we are proud to be recognised as "
    "a top employer again, and we are committed to an inclusive hiring process for everyone.\n\n" * 3
    + "Job title: as applied | Requisition ID: 48213 | Location: Hybrid | Department: Operations\n\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--file", type=Path, default=None)
    args = parser.parse_args()
    if args.file:
        lines = args.file.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    else:
        records = split(load_corpus(default_data_dir()))[1]
    clf = Classifier.load(args.model_dir)
    messages = [record_to_message(r) for r in records]
    truth = [r["label"] == "rejection" for r in records]
    for name, batch in (("as written", messages),
                        ("with a banner", [dataclasses.replace(m, text=BANNER + m.text) for m in messages])):
        found = [v.label == "rejection" for v in clf.classify(batch)]
        hits = sum(f and t for f, t in zip(found, truth, strict=True))
        false = sum(f and not t for f, t in zip(found, truth, strict=True))
        print(f"{name:14s} recall {hits / sum(truth):.3f}  false positives {false} of {truth.count(False)}")


if __name__ == "__main__":
    main()
