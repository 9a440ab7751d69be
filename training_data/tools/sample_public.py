"""Copy a deterministic sample of the SpamAssassin public corpus into training_data/public/.

    python training_data/tools/sample_public.py /work/shared/corpora/spamassassin.jsonl [N]

Messages are ordered by sha256 of their id and the first N (default 1,500) with a body under 20,000
characters are kept, so the same input always gives the same sample. Fields are converted to FORMAT.md.
"""

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "public" / "spamassassin_sample.jsonl"
MAX_BODY = 20_000


def convert(rec: dict) -> dict:
    body = rec["body"]
    if re.search(r"<html|<body|<table", body[:5000], re.IGNORECASE):
        from watcher.messages import html_to_text  # the same conversion production applies to HTML mail

        body = html_to_text(body)[0]
    return {
        "id": rec["id"],
        "group": rec["id"],
        "label": "not_rejection",
        "category": "ordinary",
        "kind": None,
        "stage": None,
        "company": None,
        "role": None,
        "lang": "en",
        "subject": rec.get("subject") or "",
        "from": rec.get("from") or "",
        "reply_to": None,
        "date": None,  # not in the source
        "body": body,
        "source": f"spamassassin ({rec['label_detail']}; {rec['source']}; PDDL-1.0/CC0)",
    }


def main() -> None:
    src = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    recs = [json.loads(line) for line in src.open(encoding="utf-8") if line.strip()]
    recs.sort(key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
    picked = [r for r in recs if 40 <= len(r["body"]) < MAX_BODY][:n]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for rec in picked:
            fh.write(json.dumps(convert(rec), ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(picked)} messages")


if __name__ == "__main__":
    main()
