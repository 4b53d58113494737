"""Check a taxonomy's own examples against the engine: its positives and negatives are its tests."""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Engine


@dataclass(frozen=True)
class ExampleFailure:
    """An example whose outcome differs from what the taxonomy file says."""

    indicator: str
    text: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.indicator}: expected {self.expected}, got {self.got}: {self.text!r}"


def statuses_for(engine: Engine, text: str, indicator: str) -> list[str]:
    """Assertion statuses of every hit of ``indicator`` in ``text``."""
    return [e.assertion for e in engine.detect(text) if e.indicator == indicator]


def check_example(engine: Engine, indicator: str, text: str, expected: str | None) -> ExampleFailure | None:
    """Check one example. ``expected``: "asserted", a non-asserted status, or None for no hit at all."""
    got = statuses_for(engine, text, indicator)
    if expected == "asserted":
        ok = "asserted" in got
    elif expected is None:
        ok = "asserted" not in got
    else:
        ok = "asserted" not in got and expected in got
    if ok:
        return None
    return ExampleFailure(indicator, text, expected or "no asserted hit", ", ".join(got) or "no hit")


def check_examples(engine: Engine) -> list[ExampleFailure]:
    """Every failing example of the engine's taxonomy (an empty list means all pass)."""
    failures = []
    for ind in engine.taxonomy.indicators:
        for text in ind.positives:
            f = check_example(engine, ind.id, text, "asserted")
            if f:
                failures.append(f)
        for ex in ind.negatives:
            f = check_example(engine, ind.id, ex.text, ex.assertion)
            if f:
                failures.append(f)
    return failures
