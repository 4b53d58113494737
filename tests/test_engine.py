from __future__ import annotations

import pytest
import spacy

from screening import Engine, ScreeningError
from screening.engine import split_chunks

from .helpers import assert_contract, assert_offsets


def test_hit_has_exact_offsets_rule_and_assertion(mini_engine: Engine) -> None:
    text = "Audit note.\nThe agent keeps the workers' passports in his office."
    result = mini_engine.screen(text, "n1")
    (e,) = result.evidence
    assert (e.indicator, e.rule, e.assertion, e.source) == ("X01", "X01/passport-held", "asserted", "rule")
    assert text[e.start : e.end] == e.text == "keeps the workers' passports"
    assert [i.id for i in result.indicators] == ["X01"]
    assert result.verdict in ("review", "high")


@pytest.mark.parametrize(
    ("text", "status", "cue"),
    [
        ("No passports were kept by the employer.", "negated", "No"),
        ("Suppliers must not hold passports of workers.", "policy", "must not"),
        ("Our code of conduct says no one may retain a passport.", "policy", "code of conduct"),
        ("We will assess whether agents hold passports.", "hypothetical", "assess"),
        ("Passports held by the agent have been returned.", "remediated", "have been returned"),
    ],
)
def test_non_asserted_hits_are_reported_but_not_counted(mini_engine: Engine, text, status, cue) -> None:
    result = mini_engine.screen(text)
    assert [(e.assertion, e.cue) for e in result.evidence] == [(status, cue)]
    assert result.indicators == ()
    assert result.verdict == "low"


def test_terminator_stops_a_cue(mini_engine: Engine) -> None:
    result = mini_engine.screen("We prohibit it, but the agent holds two passports.")
    assert [e.assertion for e in result.evidence] == ["asserted"]


def test_negation_inside_the_rule_span_does_not_negate_it(mini_engine: Engine) -> None:
    result = mini_engine.screen("Workers had no rest day in March.")
    assert [(e.text, e.assertion) for e in result.evidence] == [("no rest day", "asserted")]


def test_remediated_evidence_weighs_less_than_asserted(mini_engine: Engine) -> None:
    open_ = mini_engine.screen("The agent holds the passports.")
    closed = mini_engine.screen("Passports held by the agent have been returned.")
    assert 0.0 < closed.score < open_.score


def test_more_indicators_raise_the_score(mini_engine: Engine) -> None:
    one = mini_engine.screen("The agent holds the passports.")
    two = mini_engine.screen("The agent holds the passports. Workers had no rest day.")
    assert two.score > one.score
    assert [i.id for i in two.indicators] == ["X01", "X02"]


def test_regex_rule_offsets(mini_engine: Engine) -> None:
    text = "Call   or message on Whats App: +60 12"
    result = mini_engine.screen(text)
    assert [e.text for e in result.evidence] == ["Whats App"]
    assert_offsets(text, result.evidence)


def test_hits_never_cross_sentences(mini_engine: Engine) -> None:
    text = "They hold.\nPassport control is at gate 4."
    assert all("\n" not in e.text for e in mini_engine.screen(text).evidence)


def test_long_text_is_chunked_with_correct_offsets(mini_engine: Engine) -> None:
    para = "Routine paragraph about fire drills and canteen hygiene. " * 30 + "\n"
    text = para * 200 + "The agent keeps the passports.\n" + para * 200
    assert len(text) > 600_000
    result = mini_engine.screen(text)
    assert [e.text for e in result.evidence] == ["keeps the passports"]
    assert_offsets(text, result.evidence)


def test_split_chunks_covers_the_text_exactly() -> None:
    text = ("word " * 50_000) + ("x" * 250_000)
    chunks = split_chunks(text, 100_000)
    assert "".join(c for _, c in chunks) == text
    assert all(text[o : o + len(c)] == c for o, c in chunks)
    assert all(len(c) <= 100_000 for _, c in chunks)


def test_result_serialises_to_the_contract(mini_engine: Engine) -> None:
    text = "The agent keeps the passports. No passports were kept by the employer."
    record = mini_engine.screen(text, "doc-7", include_text=True).to_dict(include_text=True)
    assert_contract(record, text)
    assert record["id"] == "doc-7" and record["text"] == text
    assert record["engine"]["taxonomy_version"] == "0.0.1"
    assert "text" not in mini_engine.screen(text).to_dict()


def test_non_string_text_is_a_clear_error(mini_engine: Engine) -> None:
    with pytest.raises(ScreeningError, match="text must be a string"):
        mini_engine.screen(b"bytes")  # type: ignore[arg-type]


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ScreeningError, match="unknown profile"):
        Engine("fishing")


def test_spacy_component_writes_spans_for_displacy(tmp_path) -> None:
    from spacy import displacy

    from tests.conftest import FIXTURES

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("screening_indicators", config={"taxonomy_path": str(FIXTURES / "mini_taxonomy.yaml")})
    doc = nlp("We prohibit passport retention. The agent holds the passports.")
    spans = doc.spans["screening"]
    assert [(s.label_, s._.screening_assertion) for s in spans] == [("X01", "policy"), ("X01", "asserted")]
    html = displacy.render(doc, style="span", options={"spans_key": "screening"})
    assert "X01" in html


def test_shipped_profiles_build_through_the_component() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("screening_indicators", config={"profile": "recruitment"})
    doc = nlp("Pay a processing fee of USD 500 before the interview. Contact us on WhatsApp only.")
    assert {s.label_ for s in doc.spans["screening"]} & {"RC01", "RC08"}


def test_words_spelled_like_spacy_symbols_do_not_break_later_documents(supplier_engine: Engine) -> None:
    # spaCy 3.8 broke its vocabulary for every later document after a memory zone saw "IS_ALPHA".
    for text in ("IS_ALPHA", "IS_ALPHA and ORTH", "The supervisor keeps the passports. IS_ALPHA"):
        for _ in range(2):
            result = supplier_engine.screen(text)
            assert result.error is None
            assert_contract(result.to_dict(), text)


def test_engine_renews_its_vocabulary_without_changing_results(monkeypatch: pytest.MonkeyPatch) -> None:
    import screening.engine as engine_module

    monkeypatch.setattr(engine_module, "RENEW_CHECK_EVERY", 5)
    engine = Engine("supplier")
    engine.renew_lexemes = 0  # renew at every check
    texts = [f"Worker {n} said the agent keeps the passports of all {n + 7} workers." for n in range(12)]
    first = engine.nlp
    results = [engine.screen(t, f"d{n}").to_dict() for n, t in enumerate(texts)]
    assert engine.nlp is not first  # renewed twice along the way
    again = Engine("supplier")
    assert results == [again.screen(t, f"d{n}").to_dict() for n, t in enumerate(texts)]
    assert any(r["indicators"] for r in results)
