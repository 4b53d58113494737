"""Engines load once, in the lifespan; /readyz fails until they have, and says so when one cannot load."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import ServiceSettings

from .conftest import AD, PROFILE, wait_ready


def test_before_the_lifespan_runs_healthz_is_up_and_readyz_is_503() -> None:
    c = TestClient(create_app(ServiceSettings(profiles=(PROFILE,))))  # no `with`: the lifespan has not run
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
    assert r.headers["retry-after"]
    r = c.post("/v1/screen", json={"text": AD, "profile": PROFILE})
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
    assert "screening_ready 0.0" in c.get("/metrics").text


def test_a_profile_whose_model_cannot_load_keeps_readyz_failing(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models" / PROFILE
    models.mkdir(parents=True)
    (models / "manifest.json").write_text(json.dumps({"not": "a manifest"}))
    monkeypatch.setenv("SCREENING_MODEL_DIR", str(tmp_path / "models"))
    with TestClient(create_app(ServiceSettings(profiles=(PROFILE,)))) as c:
        for _ in range(600):
            r = c.get("/readyz")
            if r.json()["error"]["code"] != "not_ready":
                break
            time.sleep(0.1)
        assert r.status_code == 503 and r.json()["error"]["code"] == "engine_failed"
        assert PROFILE in r.json()["error"]["message"]
        assert str(tmp_path) not in r.text  # no internal paths in the answer
        s = c.post("/v1/screen", json={"text": AD, "profile": PROFILE})
        assert s.status_code == 503 and s.json()["error"]["code"] == "profile_unavailable"
        assert c.get("/healthz").status_code == 200


def test_engines_are_built_once_per_app(settings) -> None:
    app = create_app(settings)
    with TestClient(app) as c:
        wait_ready(c.get)
        first = dict(app.state.engines.engines())
    with TestClient(app) as c:
        wait_ready(c.get)
        assert all(app.state.engines.engines()[p] is e for p, e in first.items())
