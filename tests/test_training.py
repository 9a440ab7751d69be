"""Training on a small corpus in tmp_path: atomic, reproducible, group-aware split; evaluation report."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from watcher import training
from watcher.classifier import META_FILE, MODEL_FILE, Classifier, record_to_message

COMPANIES = ["Acme", "Brightwell", "Kestrel Labs", "Norrow", "Tidewater", "Oakridge", "Pellucid", "Quarry",
             "Vantage", "Harbor", "Juniper", "Lumen"]
ROLES = ["Data Engineer", "Product Designer", "Account Executive", "Nurse", "Teacher", "Analyst"]
REJECT = [
    "Thank you for applying to the {role} role at {co}. Unfortunately we have decided to move forward with "
    "other candidates whose experience more closely matches our needs.",
    "After careful review we will not be progressing your application for {role}. We wish you the best of "
    "luck in your search.",
    "Thanks for interviewing with {co}. Regrettably we won't be moving forward; the position has been "
    "filled.",
]
OTHER = [
    "Thanks for applying to the {role} role at {co}! We'd like to invite you to an interview next week; "
    "please share your availability.",
    "We have received your application for {role} and will review it shortly. If you don't hear from us, "
    "keep an eye on our careers page.",
    "Your order from {co} has shipped and will arrive on Tuesday.",
    "Congratulations! We are pleased to offer you the {role} position at {co}. Your start date is Monday.",
]


def corpus(n_groups: int = 40, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    recs = []
    for g in range(n_groups):
        rejection = g % 2 == 0
        template = (REJECT if rejection else OTHER)[g % (3 if rejection else 4)]
        for v in range(2):
            co, role = rnd.choice(COMPANIES), rnd.choice(ROLES)
            recs.append({
                "id": f"t-{g:03d}-{v}", "group": f"t-{g:03d}",
                "label": "rejection" if rejection else "not_rejection",
                "category": ("job_rejection_application" if g % 3 else "job_rejection_interview") if rejection
                else ["interview_invitation", "application_received", "ordinary", "offer"][g % 4],
                "kind": "job" if rejection else None,
                "stage": ("application" if g % 3 else "interview") if rejection else None,
                "company": co, "role": role, "lang": "en",
                "subject": f"Your application to {co}" if g % 4 else f"{role} at {co}",
                "from": f"{co} Recruiting <no-reply@greenhouse-mail.io>", "reply_to": None,
                "date": "Tue, 11 Feb 2025 16:42:09 +0000",
                "body": f"Hi Sam,\n\n{template.format(co=co, role=role)}\n\nBest,\nThe {co} Team",
                "source": "handwritten",
            })
    return recs


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "training_data" / "handwritten"
    d.mkdir(parents=True)
    with (d / "small.jsonl").open("w") as fh:
        for rec in corpus():
            fh.write(json.dumps(rec) + "\n")
    return tmp_path / "training_data"


def test_train_writes_model_and_metadata(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    meta = training.train(data_dir, out, trained_at="2026-01-01T00:00:00Z")
    assert (out / MODEL_FILE).is_file() and (out / META_FILE).is_file()
    assert sorted(p.name for p in out.iterdir()) == [MODEL_FILE, META_FILE]  # no temp files left behind
    on_disk = json.loads((out / META_FILE).read_text())
    assert on_disk == meta
    for key in ("format_version", "sklearn_version", "joblib_version", "python_version", "data_sha256",
                "trained_at", "threshold", "n_train", "n_holdout", "holdout", "model_sha256"):
        assert key in meta
    assert meta["n_train"] + meta["n_holdout"] == 80
    assert 0.5 <= meta["threshold"] < 1
    assert (out / MODEL_FILE).stat().st_mode & 0o777 == 0o644
    clf = Classifier.load(out)
    assert clf.version == f"2026-01-01T00:00:00Z+{meta['model_sha256'][:12]}"


def test_train_is_reproducible(data_dir: Path, tmp_path: Path) -> None:
    a = training.train(data_dir, tmp_path / "a", trained_at="x")
    b = training.train(data_dir, tmp_path / "b", trained_at="x")
    assert a["data_sha256"] == b["data_sha256"]
    assert a["model_sha256"] == b["model_sha256"]
    msgs = [record_to_message(r) for r in corpus(seed=7)]
    va = Classifier.load(tmp_path / "a").classify(msgs)
    vb = Classifier.load(tmp_path / "b").classify(msgs)
    assert va == vb


def test_a_failed_write_leaves_the_old_model_in_place(data_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "models"
    training.train(data_dir, out, trained_at="x")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("joblib.dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        training.train(data_dir, out, trained_at="y")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_user_corrections_change_the_data_hash_and_always_train(data_dir: Path, tmp_path: Path) -> None:
    extra = [{**corpus()[0], "id": "correction-1", "group": "correction-1"}]
    plain = training.train(data_dir, tmp_path / "a", trained_at="x")
    corrected = training.train(data_dir, tmp_path / "b", trained_at="x", extra_records=extra)
    assert plain["data_sha256"] != corrected["data_sha256"]
    assert corrected["n_train"] == plain["n_train"] + 1
    assert corrected["n_corrections"] == 1


def test_split_keeps_groups_together_and_every_category_on_both_sides() -> None:
    recs = corpus(n_groups=60)
    train, held = training.split(recs)
    assert train and held
    assert not {r["group"] for r in train} & {r["group"] for r in held}
    assert {r["category"] for r in train} == {r["category"] for r in held} == {r["category"] for r in recs}
    assert 0.1 < len(held) / len(recs) < 0.35
    assert training.split(list(reversed(recs)))[1] == list(reversed(held))  # by hash, not by position


def test_load_corpus_skips_broken_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = corpus(n_groups=1)[0]
    (tmp_path / "a.jsonl").write_text(
        json.dumps(good) + "\n" + "{not json\n" + json.dumps({"id": "x"}) + "\n" + json.dumps(good) + "\n"
    )
    records = training.load_corpus(tmp_path)
    assert [r["id"] for r in records] == [good["id"]]
    assert "not valid JSON" in caplog.text and "duplicate id" in caplog.text


def test_no_corpus_is_a_training_error(tmp_path: Path) -> None:
    with pytest.raises(training.TrainingError, match="no \\*.jsonl"):
        training.train(tmp_path, tmp_path / "models")


def test_evaluate_reports_metrics_by_category_and_mistakes(data_dir: Path, tmp_path: Path) -> None:
    training.train(data_dir, tmp_path / "models", trained_at="x")
    report = training.evaluate(tmp_path / "models", data_dir)
    assert report["data_matches_model"] is True
    overall = report["overall"]
    assert overall["tp"] + overall["fp"] + overall["fn"] + overall["tn"] == report["n"]
    assert report["confusion"]["matrix"] == [[overall["tn"], overall["fp"]], [overall["fn"], overall["tp"]]]
    assert set(report["by_kind"]) <= {"job"}
    assert report["company_accuracy"]["n"] > 0 and report["stage_accuracy"]["n"] > 0
    for m in report["mistakes"]:
        assert {"id", "category", "label", "score", "subject"} <= set(m)
    text = "\n".join(training.format_report(report))
    assert "precision" in text and "company accuracy" in text


def test_threshold_reaches_the_precision_target_on_scores() -> None:
    import numpy as np

    scores = np.array([0.99, 0.97, 0.95, 0.9, 0.8, 0.7, 0.6, 0.55, 0.3, 0.1])
    y = np.array([1, 1, 1, 1, 1, 0, 1, 1, 0, 0])
    t = training.choose_threshold(scores, y, target=0.98)
    assert 0.7 < t <= 0.8  # everything at or above it is a rejection; the 0.7 negative is below it


def test_nb_scaled_svm_folds_its_scaling_into_the_coefficients() -> None:
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.random(200, 30, density=0.2, format="csr", random_state=1)
    y = (X[:, 0].toarray().ravel() + X[:, 1].toarray().ravel() + rng.normal(0, 0.05, 200) > 0.1).astype(int)
    model = training.NBScaledSVM().fit(X, y)
    # the column that decides most is stretched most, and the model applies to unscaled X directly
    assert abs(model.coef_[0, 0]) > np.median(np.abs(model.coef_))
    decisions = model.decision_function(X)
    assert decisions.shape == (200,)
    assert ((decisions > 0) == (y == 1)).mean() > 0.9
