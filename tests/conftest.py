from __future__ import annotations

from pathlib import Path

import pytest

from screening import Engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def supplier_engine() -> Engine:
    return Engine("supplier")


@pytest.fixture(scope="session")
def recruitment_engine() -> Engine:
    return Engine("recruitment")


@pytest.fixture(scope="session")
def mini_engine() -> Engine:
    return Engine("mini", taxonomy=FIXTURES / "mini_taxonomy.yaml", replace_taxonomy=True)
