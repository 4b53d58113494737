from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from screening.errors import TaxonomyError
from screening.examples import check_example
from screening.taxonomy import PROFILES, load_taxonomy, load_taxonomy_file, parse_taxonomy

EXPECTED_IDS = {
    "supplier": [f"FL{n:02d}" for n in range(1, 12)],
    "recruitment": [f"RC{n:02d}" for n in range(1, 13)],
}


def _examples(profile: str, kind: str) -> list[tuple[str, str, str | None]]:
    tax = load_taxonomy(profile)
    out: list[tuple[str, str, str | None]] = []
    for ind in tax.indicators:
        if kind == "positive":
            out += [(ind.id, t, "asserted") for t in ind.positives]
        else:
            out += [(ind.id, e.text, e.assertion) for e in ind.negatives]
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_shipped_taxonomy_has_the_expected_indicators(profile: str) -> None:
    tax = load_taxonomy(profile)
    assert [i.id for i in tax.indicators] == EXPECTED_IDS[profile]
    for ind in tax.indicators:
        assert ind.sources, ind.id
        assert ind.rules, ind.id


@pytest.mark.parametrize("profile", PROFILES)
def test_every_indicator_has_five_positive_and_five_negative_examples(profile: str) -> None:
    for ind in load_taxonomy(profile).indicators:
        assert len(ind.positives) >= 5, ind.id
        assert len(ind.negatives) >= 5, ind.id
        kinds = {e.assertion for e in ind.negatives}
        assert {"negated", "policy", "hypothetical"} <= kinds, (ind.id, kinds)


@pytest.mark.parametrize(("indicator", "text", "expected"), _examples("supplier", "positive"))
def test_supplier_positive_example_is_asserted(supplier_engine, indicator, text, expected) -> None:
    assert check_example(supplier_engine, indicator, text, expected) is None


@pytest.mark.parametrize(("indicator", "text", "expected"), _examples("supplier", "negative"))
def test_supplier_negative_example_is_not_asserted(supplier_engine, indicator, text, expected) -> None:
    assert check_example(supplier_engine, indicator, text, expected) is None


@pytest.mark.parametrize(("indicator", "text", "expected"), _examples("recruitment", "positive"))
def test_recruitment_positive_example_is_asserted(recruitment_engine, indicator, text, expected) -> None:
    assert check_example(recruitment_engine, indicator, text, expected) is None


@pytest.mark.parametrize(("indicator", "text", "expected"), _examples("recruitment", "negative"))
def test_recruitment_negative_example_is_not_asserted(recruitment_engine, indicator, text, expected) -> None:
    assert check_example(recruitment_engine, indicator, text, expected) is None


def _mini() -> dict:
    path = Path(__file__).parent / "fixtures" / "mini_taxonomy.yaml"
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema=7), "schema"),
        (lambda d: d["indicators"][0].pop("sources"), "indicator X01: needs at least one source"),
        (lambda d: d["indicators"][0].update(weight=3), "indicator X01.weight"),
        (lambda d: d["indicators"][1]["rules"][1].update(regex=["(unclosed"]), "invalid regular expression"),
        (lambda d: d["indicators"][1].update(id="X01"), "duplicate indicator ids"),
        (lambda d: d["assertion"].update(maybe={"before": ["x"]}), "unknown cue kinds"),
        (lambda d: d["indicators"][0]["rules"][0].update(patterns=[[{"OP": "*"}, {"LOWER": "x"}]]), "wildcard"),
        (lambda d: d["indicators"][0]["examples"]["negative"].append({"text": "x", "assertion": "maybe"}),
         "assertion must be one of"),
    ],
)
def test_invalid_taxonomy_is_refused_with_file_indicator_and_reason(mutate, message) -> None:
    data = _mini()
    mutate(data)
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(data, "user.yaml")
    assert "user.yaml" in str(err.value)
    assert message in str(err.value)


def test_invalid_token_pattern_names_the_rule(tmp_path: Path) -> None:
    from screening import Engine

    data = _mini()
    data["indicators"][0]["rules"][0]["patterns"] = [[{"LEMMA": "passport", "NOT_AN_ATTR": 1}]]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TaxonomyError, match="indicator X01 rule passport-held"):
        Engine("mini", taxonomy=path, replace_taxonomy=True)


def test_unreadable_taxonomy_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("indicators: [unclosed")
    with pytest.raises(TaxonomyError, match="not valid UTF-8 YAML"):
        load_taxonomy_file(path)


def test_user_taxonomy_extends_the_shipped_one(tmp_path: Path) -> None:
    from screening import Engine

    data = _mini()
    path = tmp_path / "extra.yaml"
    path.write_text(yaml.safe_dump(data))
    engine = Engine("supplier", taxonomy=path)
    ids = [i.id for i in engine.taxonomy.indicators]
    assert ids[:11] == EXPECTED_IDS["supplier"] and "X01" in ids
    assert "+mini.0.0.1" in engine.taxonomy.version
