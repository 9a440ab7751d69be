"""Validate training_data JSONL files: python training_data/tools/check.py FILE..."""
import json
import sys
from collections import Counter

KINDS = {"job", "pitch", "investor", "client", "academic", "program", None}
STAGES = {"application", "interview", None}
LANGS = {"en", "de", "fr", "es", "nl", "pt"}
REQUIRED = ["id", "group", "label", "category", "kind", "stage", "company", "role", "lang", "subject", "from",
            "reply_to", "date", "body", "source"]

ok = True
for path in sys.argv[1:]:
    counts: Counter = Counter()
    seen = set()
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            print(f"{path}:{n}: bad JSON: {exc}")
            ok = False
            continue
        missing = [k for k in REQUIRED if k not in rec]
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if rec.get("label") not in ("rejection", "not_rejection"):
            problems.append("label")
        if rec.get("kind") not in KINDS or rec.get("stage") not in STAGES or rec.get("lang") not in LANGS:
            problems.append("kind/stage/lang")
        if rec.get("label") == "rejection" and rec.get("kind") is None:
            problems.append("rejection without kind")
        if rec.get("label") == "not_rejection" and (rec.get("kind") or rec.get("stage")):
            problems.append("not_rejection with kind/stage")
        if rec.get("kind") == "job" and rec.get("stage") is None:
            problems.append("job rejection without stage")
        if rec.get("id") in seen:
            problems.append("duplicate id")
        seen.add(rec.get("id"))
        if len(rec.get("body", "")) < 40:
            problems.append("body too short")
        if problems:
            ok = False
            print(f"{path}:{n}: {rec.get('id')}: {', '.join(problems)}")
        counts[(rec.get("label"), rec.get("category"))] += 1
    print(path, sum(counts.values()), "messages")
    for key, value in sorted(counts.items(), key=str):
        print("   ", key, value)
sys.exit(0 if ok else 1)
