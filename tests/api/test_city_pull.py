"""The figures of a generated city, pinned: every faster path must answer them unchanged.

A city of two agencies (bench/city.py: values with holes, annual and quarter targets, some
none, some zero) goes in through the seed, the import and the targets endpoints; some of its
units' quarters are submitted, verified or returned. Every achievement it answers (each
quarter, all and verified only, the list and the per-indicator routes) is compared, figure by
figure, with `data/city_pull.json`, recorded from the straightforward implementation before
the pull was batched. Run with `UPDATE_CITY_PULL=1` to record it again, on purpose only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, TypeAdapter, create_model
from sqlmodel import Session

from app.models import Role
from app.schemas.achievements import AchievementPublic
from app.services.seed import load_seed
from bench.city import YEAR, agency_code, city_seed_dir, target_items, value_rows
from tests.api.helpers import assert_achievements

API = "/api/v1"
GOLDEN = Path(__file__).parent / "data" / "city_pull.json"
AGENCIES = 2

# What varies between runs and databases (ids, clocks) is left out; everything else counts.
FIGURES = (
    "values",
    "quarter_values",
    "quarter_realization",
    "realization",
    "target",
    "achievement",
    "rating",
    "status",
    "reason",
    "missing_variables",
    "verified",
    "verification",
    "unverified",
    "quality",
)

# (agency, unit, quarter, steps): the workflow the city's units went through.
WORKFLOW = (
    (1, "BID_PSM", 1, ("submit", "verify")),
    (1, "BID_PSM", 2, ("submit", "verify")),
    (1, "SEKRETARIAT", 4, ("submit", "verify")),
    (1, "BID_RPJS", 1, ("submit",)),
    (2, "UPTD_PPA", 1, ("submit", "return")),
    (2, "BID_PP", 3, ("submit", "verify")),
)


def build_city(client: Any, session: Session, tmp: Path, admin: dict[str, str]) -> None:
    city_seed_dir(tmp, AGENCIES)
    load_seed(session, tmp)
    for index in range(1, AGENCIES + 1):
        code = agency_code(index)
        body = {"agency": code, "rows": value_rows(index)}
        imported = client.post(f"{API}/data-values/import", headers=admin, json=body)
        assert imported.status_code == 200, imported.text
        indicators = client.get(
            f"{API}/indicators", headers=admin, params={"agency": code, "limit": 1000}
        ).json()["items"]
        for item in target_items(index, indicators):
            path = f"{API}/indicators/{item.pop('indicator_id')}/targets/{YEAR}"
            assert client.put(path, headers=admin, json=item).status_code == 200


def explained_errors(client: Any, admin: dict[str, str], index: int, unit: str, quarter: int):
    """An explanation of each data-quality error of a quarter (its random values break some)."""
    checks = client.get(
        f"{API}/periods/{YEAR}/{quarter}/units/{unit}/checks",
        headers=admin,
        params={"agency": agency_code(index)},
    )
    assert checks.status_code == 200, checks.text
    errors = [f["key"] for f in checks.json()["findings"] if f["severity"] == "error"]
    return {key: "Data uji kota" for key in errors}


def walk_workflow(client: Any, admin: dict[str, str], verifier: dict[str, str]) -> None:
    """The admin (who wrote the data) submits, explaining the data-quality errors; a verifier
    verifies or returns."""
    for index, unit, quarter, steps in WORKFLOW:
        for step in steps:
            body = {"note": "Periksa kembali"} if step == "return" else None
            if step == "submit":
                body = {"explanations": explained_errors(client, admin, index, unit, quarter)}
            answer = client.post(
                f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{step}",
                headers=admin if step == "submit" else verifier,
                params={"agency": agency_code(index)},
                json=body,
            )
            assert answer.status_code == 200, answer.text


def figures(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in FIGURES}


def pulled(client: Any, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every achievement the city answers, by where it was read."""
    answers: dict[str, dict[str, Any]] = {}
    for verified_only in (False, True):
        for quarter in (1, 2, 3, 4):
            page = client.get(
                f"{API}/achievements",
                headers=headers,
                params={
                    "year": YEAR,
                    "quarter": quarter,
                    "verified_only": verified_only,
                    "limit": 1000,
                },
            ).json()
            for item in page["items"]:
                if item["agency"] == "DINSOSP3A":
                    continue
                key = f"list {item['agency']} {item['indicator']['code']} Q{quarter}"
                answers[key + (" verified" if verified_only else "")] = figures(item)
    # The per-indicator routes of the first agency: the four quarters, and a realization.
    ids = {
        item["indicator"]["code"]: item["indicator"]["id"]
        for item in client.get(
            f"{API}/achievements",
            headers=headers,
            params={"year": YEAR, "agency": agency_code(1), "limit": 1000},
        ).json()["items"]
    }
    for code, ident in sorted(ids.items()):
        year = client.get(
            f"{API}/indicators/{ident}/achievements", headers=headers, params={"year": YEAR}
        ).json()
        for item in year:
            answers[f"indicator {agency_code(1)} {code} Q{item['quarter']}"] = figures(item)
        realization = client.get(f"{API}/indicators/{ident}/realizations/{YEAR}/2", headers=headers)
        answers[f"realization {agency_code(1)} {code} Q2"] = figures(realization.json())
    return answers


def test_city_pull_is_unchanged(client, session, admin, verifier, tmp_path):
    build_city(client, session, tmp_path / "seed", admin)
    walk_workflow(client, admin, verifier)
    answers = pulled(client, admin)
    statuses = {a["status"] for a in answers.values()}
    assert statuses == {"ok", "no_data", "partial_data", "no_target", "undefined"}
    assert {a["verification"] for a in answers.values()} >= {"open", "verified", "mixed"}
    if os.environ.get("UPDATE_CITY_PULL"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(answers, indent=0, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert answers.keys() == expected.keys()
    differences = [
        f"{key}: {name} {expected[key][name]!r} -> {answer[name]!r}"
        for key, answer in answers.items()
        for name in FIGURES
        if answer[name] != expected[key][name]
    ]
    assert not differences, "\n".join(differences[:20])


# The fields of an achievement that are not pinned: they vary between runs and databases, or
# say which achievement it is (the key of the pinned figures).
UNPINNED = {"indicator", "position", "agency", "year", "quarter", "updated_at"}


def test_the_pinned_figures_are_the_schemas():
    """Every field of `AchievementPublic` is pinned or said not to be (a new one is recorded
    on purpose), and every pinned figure is valid as its field, with no other key."""
    fields = AchievementPublic.model_fields
    assert set(FIGURES) | UNPINNED == set(fields) and not set(FIGURES) & UNPINNED
    figures = create_model(
        "PinnedFigures",
        __config__=ConfigDict(extra="forbid"),
        **{name: (fields[name].annotation, fields[name]) for name in FIGURES},
    )
    pinned = list(json.loads(GOLDEN.read_text()).values())
    assert pinned
    TypeAdapter(list[figures]).validate_python(pinned, strict=True)


def test_a_fresh_city_pull_answers_the_schema_exactly(client, session, make_key, tmp_path):
    admin = make_key(Role.admin, name="city-admin")
    verifier = make_key(Role.verifier, name="city-verifier")
    build_city(client, session, tmp_path / "seed", admin)
    walk_workflow(client, admin, verifier)
    for verified_only in (False, True):
        for quarter in (1, 2, 3, 4):
            params = {"year": YEAR, "quarter": quarter, "verified_only": verified_only}
            page = client.get(f"{API}/achievements", headers=admin, params=params | {"limit": 1000})
            assert_achievements(page.json()["items"])
