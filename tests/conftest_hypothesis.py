"""Hypothesis profiles of the fuzz tests, chosen with ``SCREENING_FUZZ_PROFILE``.

- ``ci`` (the default, what ``make test`` runs): 10,000 generated cases per property, derandomised so a
  CI run is repeatable; the properties are kept cheap enough for the whole file to run in minutes.
- ``dev``: 300 cases per property, random, for a quick local loop.
- ``explore``: 100,000 random cases per property, to hunt for new failures on purpose.

The profiles are applied per test (``@FUZZ``), never loaded globally, so other tests' settings are untouched.
A failing case is printed with ``@reproduce_failure``; add it as an ``@example`` when it is fixed.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 10_000
_COMMON = {
    "deadline": None,  # timing varies on shared CI machines; bounded time is tested in test_hostile.py
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", max_examples=300, **_COMMON)
settings.register_profile("explore", max_examples=100_000, **_COMMON)

PROFILE = os.environ.get("SCREENING_FUZZ_PROFILE", "ci")
FUZZ = settings(settings.get_profile(PROFILE))
# Against the shipped profiles, whose trained models take ~0.1 s a document: 1 case in 200 (50 in CI).
FUZZ_SHIPPED = settings(FUZZ, max_examples=max(30, FUZZ.max_examples // 200))
