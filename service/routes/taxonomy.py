"""``GET /v1/taxonomy``: the indicators, names, descriptions, sources and versions of the served profiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..deps import EnginesDep
from ..openapi import error_responses
from ..schemas import Profile, TaxonomyResponse

router = APIRouter(tags=["taxonomy"])


@router.get(
    "/taxonomy",
    summary="List the indicators of the served profiles",
    response_model=TaxonomyResponse,
    responses=error_responses(401, 422, 503),
)
def taxonomy(
    engines: EnginesDep,
    profile: Annotated[Profile | None, Query(description="Only this profile's taxonomy.")] = None,
) -> dict[str, Any]:
    """Describe each served profile's taxonomy (rules are counted, not listed) and the engine applying it."""
    profiles = [profile] if profile else list(engines.profiles)
    out = []
    for name in profiles:
        engine = engines.engine(name)
        out.append({"profile": name, "engine": engine.info.to_dict(), **engine.taxonomy.summary()})
    return {"taxonomies": out}
