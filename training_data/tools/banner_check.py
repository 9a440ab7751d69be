"""Do a long banner or tracking links hide the decision? Recall and false positives with and without them.

    python training_data/tools/banner_check.py [--model-dir DIR] [--file eval/NAME.jsonl]

Each message is classified as written and again with ~1,100 characters of what an HTML careers mail turns
into before its letter starts (view-in-browser line, navigation, employer blurb, the job's details) put in
front of its text, and a third time with long tracking links after its first paragraph and at its end (a
plain-text careers or newsletter mail has several of a few hundred characters each). Default set: the
held-out split of training_data/.
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
LINK = "https://click.mail.careers-hub.com/ls/click?upn=" + "u001.Zx9Qk3" * 25 + "&utm_medium=email"


def with_links(text: str) -> str:
    head, sep, rest = text.partition("\n\n")
    return f"{head}{sep}View your application: <{LINK}>\n{LINK}\n\n{rest}\n\nUnsubscribe: {LINK}"


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
                        ("with a banner", [dataclasses.replace(m, text=BANNER + m.text) for m in messages]),
                        ("with links", [dataclasses.replace(m, text=with_links(m.text)) for m in messages])):
        found = [v.label == "rejection" for v in clf.classify(batch)]
        hits = sum(f and t for f, t in zip(found, truth, strict=True))
        false = sum(f and not t for f, t in zip(found, truth, strict=True))
        print(f"{name:14s} recall {hits / sum(truth):.3f}  false positives {false} of {truth.count(False)}")


if __name__ == "__main__":
    main()
