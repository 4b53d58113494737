from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from screening import Engine
from screening.errors import ModelError
from screening.models.artefacts import MANIFEST, MODEL_FILE, load_artefact
from screening.models.data import DataError, load_spec, split_of
from screening.models.loading import attach_model, default_engine
from screening.models.text import clean_text
from screening.models.train import evaluate_engine, train

from .conftest import ROOT, SHARED_DATA
from .helpers import assert_contract

FEES = [
    "Pay the processing fee of USD {n}00 before your interview, then we send the ticket.",
    "Registration fee {n}000 pesos, non refundable, pay to our agent first.",
    "Applicants must pay visa and medical costs of {n}50 dollars in cash at the office.",
    "Placement fee of RM {n}00 is deducted from your first salary.",
]
FAIR = [
    "Northbank Foods hires packers, {n} shifts a week, wages paid monthly into your bank account.",
    "We never charge candidates any fee; apply on our careers page, interview in week {n}.",
    "Accountant wanted for a dental practice, {n} years of experience, pension and holidays.",
    "Warehouse team lead, forklift licence required, day shift, site {n} in Leeds.",
]


def _tiny_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in range(1, 13):
        for k, t in enumerate(FEES):
            rows.append({"id": f"p{n}-{k}", "text": t.format(n=n), "label": 1, "labels": ["RC01"], "group": f"g{n}"})
        for k, t in enumerate(FAIR):
            rows.append({"id": f"n{n}-{k}", "text": t.format(n=n), "label": 0, "labels": [], "group": f"g{n}"})
    (folder / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    return _tiny_corpus(tmp_path_factory.mktemp("tiny") / "corpus")


@pytest.fixture(scope="module")
def tiny_model(tiny_corpus: Path) -> Path:
    out = tiny_corpus.parent / "model"
    train("recruitment", [str(tiny_corpus)], out, seed=0)
    return out


def test_split_is_fixed_by_group() -> None:
    assert split_of("lg-g01") == split_of("lg-g01")
    assert {split_of(f"g{n}") for n in range(200)} == {"train", "dev", "test"}


def test_training_writes_manifest_card_and_checked_model(tiny_model: Path) -> None:
    manifest = json.loads((tiny_model / MANIFEST).read_text())
    assert manifest["profile"] == "recruitment"
    assert 0 < manifest["thresholds"]["review"] < manifest["thresholds"]["high"] <= 1
    assert manifest["files"][MODEL_FILE] and manifest["libraries"]["scikit-learn"]
    assert manifest["taxonomy"]["version"] and manifest["data"]["train"][0]["sha256"]
    assert "Intended use" in (tiny_model / "MODEL_CARD.md").read_text()
    bundle, _ = load_artefact(tiny_model)
    assert set(bundle) == {"classifier", "indicators", "indicator_ids", "calibration", "scope"}
    assert bundle["calibration"] is None  # recruitment: no gate, so no calibration per gate group
    assert bundle["scope"] is None  # no out-of-scope texts in the tiny corpus


def test_model_scores_are_probabilities_with_model_evidence(tiny_model: Path) -> None:
    engine = attach_model(Engine("recruitment"), tiny_model)
    text = "Pay the processing fee of USD 700 before your interview, then we send the ticket."
    result = engine.screen(text, "x", include_text=True)
    assert_contract(result.to_dict(include_text=True), text)
    assert result.engine.model and result.engine.model.startswith("screening-recruitment@")
    assert result.verdict in ("review", "high")
    assert any(e.source == "model" for e in result.evidence)
    fair = engine.screen("We never charge candidates any fee; apply on our careers page, interview in week 3.")
    assert fair.score is not None and result.score is not None and fair.score < result.score


def test_training_is_deterministic(tiny_model: Path, tiny_corpus: Path, tmp_path: Path) -> None:
    again = train("recruitment", [str(tiny_corpus)], tmp_path / "model", seed=0)
    shipped = json.loads((tiny_model / MANIFEST).read_text())
    assert again["metrics"] == shipped["metrics"] and again["thresholds"] == shipped["thresholds"]


def test_tampered_model_is_refused_before_loading(tiny_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError) as err:
        attach_model(Engine("recruitment"), copy)
    assert err.value.code == "model_tampered" and "sha256" in err.value.message


def test_model_from_another_scikit_learn_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["libraries"]["scikit-learn"] = "0.1.0"
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError) as err:
        load_artefact(copy)
    assert err.value.code == "model_incompatible"


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a screening model folder"):
        default_engine("recruitment", model=tmp_path)


def test_evaluation_report_has_every_figure(tiny_model: Path, tmp_path: Path) -> None:
    engine = attach_model(Engine("recruitment"), tiny_model)
    docs = load_spec(str(_tiny_corpus(tmp_path / "c")) + "@all", None)
    report = evaluate_engine(engine, docs)
    b = report["binary"]
    for key in ("precision", "recall", "f1", "roc_auc", "pr_auc", "brier", "ece", "reliability", "confusion",
                "per_class", "f1_at_natural_prevalence"):
        assert key in b
    assert "RC01" in report["indicators"]["per_indicator"]


OTHER = [
    "See you at {n} by the station, I will bring the umbrella.",
    "Minutes of committee meeting {n} attached, comments by Friday please.",
    "Your parcel {n} is out for delivery and arrives before noon.",
    "Happy birthday auntie, {n} hugs from all of us!",
]


def test_scope_model_holds_back_text_the_profile_does_not_screen(tiny_corpus: Path, tiny_model: Path,
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, folder)
    rows = [{"id": f"o{n}-{k}", "text": t.format(n=n), "kind": "other", "group": f"o{n}"}
            for n in range(1, 13) for k, t in enumerate(OTHER)]
    (folder / "other.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    manifest = train("recruitment", [str(folder)], tmp_path / "model", seed=0)
    assert manifest["data"]["n_out_of_scope"] >= 20
    assert manifest["params"]["scope"]["out_of_fold"]["out_of_scope"] == manifest["data"]["n_out_of_scope"]
    scoped = attach_model(Engine("recruitment"), tmp_path / "model")
    plain = attach_model(Engine("recruitment"), tiny_model)  # same in-scope data, no out-of-scope texts
    calibration = manifest["params"]["scope"]["calibration"]
    assert calibration["out_of_scope_log_odds"] > 0  # out-of-scope evidence lowers the score, as fitted
    chat = "Parcel arrives before noon."  # under the indicator models' five words: no indicator can be raised
    assert not scoped.screen(chat).indicators
    assert scoped.screen(chat).score < plain.screen(chat).score
    scope = scoped.scorer.scope  # type: ignore[attr-defined]
    fair_ad = FAIR[0].format(n=3)
    assert scope.predict([chat])[0] < 0.5 < scope.predict([fair_ad])[0]
    assert scope.adjust(chat, 0.8, False) < scope.adjust(fair_ad, 0.8, False)
    # Where an indicator is asserted, the document is in scope by that evidence: the scope model has no say.
    fee_ad = FEES[0].format(n=7)
    assert scoped.screen(fee_ad).indicators and scoped.screen(fee_ad).verdict != "low"
    assert scope.adjust(fee_ad, 0.8, True) == scope.adjust(chat, 0.8, True)


def test_out_of_scope_records_cannot_carry_labels(tmp_path: Path) -> None:
    bad = tmp_path / "c.jsonl"
    bad.write_text(json.dumps({"id": "x", "text": "Hello there", "kind": "other", "label": 1}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="out of scope"):
        load_spec(str(bad), None)


def test_bad_data_spec_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_spec(str(tmp_path / "missing"), "train")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(DataError, match="non-empty 'text'"):
        load_spec(str(bad), "train")


def test_clean_text_drops_masks_markup_and_layout() -> None:
    assert clean_text("**Apply** now!\n\n- #URL_abc123# <b>Call</b>  #PHONE_x#") == "apply now! - call"


# --- The shipped models -------------------------------------------------------------------------

SHIPPED = ROOT / "models"
needs_shipped = pytest.mark.skipif(not (SHIPPED / "recruitment" / MANIFEST).is_file(), reason="no shipped model")

DECEPTIVE_ADS = [
    "**URGENT HIRING** factory workers for Malaysia!!! No experience, no interview. Salary RM 4,800 per month "
    "plus free hostel and food. Processing fee RM 1,500 must be paid before departure, we arrange visa and "
    "flight ticket for you. Passport must be submitted to our agent on arrival for safekeeping. Contract will "
    "be explained after you reach the factory. Limited slots, leaving this week. WhatsApp only +60 11 2345 "
    "6789, do not call. Males 20-35 only. Our client is a leading company, name given after selection. "
    "Ticket and medical costs are deducted from salary in the first three months. Apply today.",
    "Customer service job in Cambodia 🇰🇭 salary 1500-3000 USD, typing and chatting only, no experience "
    "needed. Free flight and accommodation. Company name will be told after you arrive. Send passport copy "
    "and photo to Telegram @fastjobs_asia. Females 18-28 preferred, must be single. Visa arranged by us on "
    "arrival, contract signed in Phnom Penh. Only 5 places left, depart in 3 days. Small deposit of 300 USD "
    "to hold your seat, refundable after probation. Good English not needed. Message now, do not miss it.",
]


def _variants(text: str) -> dict[str, str]:
    words = text.split()
    stripped = clean_text(text)
    return {"first 60 words": " ".join(words[:60]), "reflowed": "\n".join(" ".join(words[i : i + 7])
            for i in range(0, len(words), 7)), "markup stripped": stripped}


@needs_shipped
@pytest.mark.parametrize("ad", DECEPTIVE_ADS)
def test_shipped_recruitment_verdict_survives_truncation_reflow_and_markup(ad: str) -> None:
    engine = default_engine("recruitment")
    base = engine.screen(ad).verdict
    assert base in ("review", "high")
    for name, variant in _variants(ad).items():
        assert (engine.screen(variant).verdict in ("review", "high")), name


# Text a screening queue receives that is not a job ad at all; written for this test, not in any corpus.
NOT_ADS = [
    "Hello, how are you today?",
    "Please find attached the minutes of the board meeting held on 3 March.",
    "Could you water the plants while we are away next week?",
    "The quarterly budget review is moved to Thursday at 10:00 in room 4B.",
    "Thanks for dinner last night, the curry was amazing!",
    "Reminder: the library will be closed on Monday for the public holiday.",
    "meeting ended early, going to the pharmacy then straight home",
    "Flat for rent near Sukhumvit BTS, 2 bedrooms, 18,000 baht a month, pets welcome.",
]


@needs_shipped
def test_ordinary_messages_are_not_flagged_as_recruitment_risk() -> None:
    engine = default_engine("recruitment")
    flagged = {t: engine.screen(t).score for t in NOT_ADS if engine.screen(t).verdict != "low"}
    assert not flagged, flagged


@needs_shipped
def test_masking_tokens_do_not_move_the_score() -> None:
    engine = default_engine("recruitment")
    ad = "Senior accountant for our Leeds office, apply on our careers page, pension and 25 days holiday."
    a = engine.screen(ad).score
    b = engine.screen(ad + " #URL_0a1b2c# #EMAIL_99ff# #PHONE_1234#").score
    assert a is not None and b is not None and abs(a - b) < 1e-9


@needs_shipped
@pytest.mark.skipif(not (SHARED_DATA / "aims_uk" / "sentences.csv").is_file(), reason="shared AIMS data absent")
def test_aims_statement_sentences_are_rarely_flagged() -> None:
    import csv

    engine = default_engine("supplier")
    with (SHARED_DATA / "aims_uk" / "sentences.csv").open(newline="", encoding="utf-8") as f:
        sentences = [row["sentence"] for row in csv.DictReader(f)]
    results = [engine.screen(s) for s in sentences]
    flagged = sum(r.verdict != "low" for r in results) / len(results)
    asserted = sum(bool(r.indicators) for r in results) / len(results)
    assert flagged < 0.03 and asserted < 0.03, (flagged, asserted)


@pytest.mark.slow
@needs_shipped
def test_retraining_the_supplier_model_reproduces_the_shipped_manifest(tmp_path: Path, monkeypatch) -> None:
    shipped = json.loads((SHIPPED / "supplier" / MANIFEST).read_text())
    monkeypatch.chdir(ROOT)  # the manifest records data specs relative to the project root
    again = train("supplier", ["corpora/supplier"], tmp_path / "supplier", seed=0)
    assert again["metrics"] == shipped["metrics"]
    assert again["thresholds"] == shipped["thresholds"]
    assert again["data"] == shipped["data"]


@pytest.mark.parametrize("profile", ["supplier", "recruitment"])
def test_model_term_evidence_points_at_content_words(profile: str) -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    engine = default_engine(profile)
    docs = load_spec(str(ROOT / "corpora" / profile) + "@test", "test")
    terms = []
    for doc in docs:
        result = engine.screen(doc.text, doc.id)
        assert_contract(result.to_dict(), doc.text)
        terms += [e.text.lower() for e in result.evidence if e.rule.startswith("model/term:")]
    assert terms, "flagged test documents carry term evidence"
    for term in terms:
        words = re.split(r"[\W_]+", term)
        assert any(len(w) > 1 and not w.isdigit() and w not in ENGLISH_STOP_WORDS for w in words), term


def test_gate_calibration_lowers_documents_the_gate_holds_back() -> None:
    """Same raw probability, fewer true positives without an indicator: the calibrated score says so."""
    import numpy as np

    from screening.models.calibration import GateCalibration

    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 400)
    has = np.arange(400) % 2 == 0
    # With an indicator the raw probability is right; without one, a positive is four times rarer.
    y = np.where(has, rng.uniform(size=400) < p, rng.uniform(size=400) < p / 4).astype(int)
    cal = GateCalibration().fit(p, has, y)
    with_ind, without = cal.apply([0.6, 0.6], [True, False])
    assert abs(with_ind - 0.6) < 0.1
    assert without < 0.35
    for g, mask in ((1, has), (0, ~has)):
        got = cal.apply(p[mask], has[mask])
        assert abs(got.mean() - y[mask].mean()) < 0.02, g  # Platt scaling matches the group's base rate
    # A group with one class only keeps the raw probability.
    flat = GateCalibration().fit(p, has, np.where(has, y, 0))
    assert flat.apply([0.3], [False])[0] == pytest.approx(0.3)
    assert flat.describe()["without_indicator"]["n"] == 200


def test_shipped_supplier_scores_are_calibrated_after_the_gate() -> None:
    manifest = json.loads((ROOT / "models" / "supplier" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["params"]["gate_calibration"]["with_indicator"]["n"] > 0
    for split in ("dev", "test"):
        assert manifest["metrics"]["held_out"][f"corpora/supplier@{split}"]["binary"]["ece"] < 0.05, split


def test_indicator_models_do_not_speak_about_fragments() -> None:
    from screening.models.indicators import MIN_WORDS, long_enough

    assert not long_enough("Speak Up")
    assert not long_enough("Passports, wages, overtime.")
    assert long_enough("Guards keep the passports of all workers.")
    engine = default_engine("supplier")
    for heading in ("Speak Up", "Our People", "Wages and deductions", "Freedom of movement", "Recruitment fees"):
        assert len(heading.split()) < MIN_WORDS
        result = engine.screen(heading)
        assert not [e for e in result.evidence if e.rule.startswith("model/FL")], heading
