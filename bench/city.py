"""A generated city: N agencies like the seeded one, with a year of values and targets.

The agencies are copies of `seed/dinsosp3a-probolinggo` under codes K001, K002 ...; they go
in through the service's own seed path (`load_seed`), their values through the import
endpoint and their targets through the bulk targets endpoint, as a city's admins would put
them in. Values and targets are drawn from a seeded random generator, with holes on purpose so
that every achievement status occurs: an agency's variable never reported (no_data), quarters
missing (partial_data), indicators without a target (no_target) or with a zero one
(undefined).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "seed" / "dinsosp3a-probolinggo"
YEAR = 2025


def agency_code(index: int) -> str:
    """The code of the city's `index`-th agency (1-based)."""
    return f"K{index:03d}"


def city_seed_dir(target: Path, agencies: int) -> list[str]:
    """Write a seed folder for `agencies` copies of the seeded agency under `target` (agencies
    already there are kept, so a city can grow); the agency codes."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "seed" / "rating_scale.yaml", target / "rating_scale.yaml")
    organization = yaml.safe_load((SOURCE / "organization.yaml").read_text(encoding="utf-8"))
    codes = []
    for index in range(1, agencies + 1):
        code = agency_code(index)
        codes.append(code)
        folder = target / code.lower()
        if folder.exists():
            continue
        folder.mkdir()
        copy = dict(organization)
        copy["agency"] = dict(organization["agency"]) | {
            "code": code,
            "name": f"{organization['agency']['name']} ({code})",
        }
        (folder / "organization.yaml").write_text(
            yaml.safe_dump(copy, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        for name in ("variables.yaml", f"decree-{YEAR}.yaml"):
            shutil.copy(SOURCE / name, folder / name)
    return codes


def _variables() -> list[dict[str, Any]]:
    data = yaml.safe_load((SOURCE / "variables.yaml").read_text(encoding="utf-8"))
    return list(data["variables"])


VARIABLES = _variables()


def value_rows(index: int) -> list[dict[str, Any]]:
    """The import rows of the `index`-th agency: four quarters of its variables, with holes."""
    rng = random.Random(index)
    rows = []
    never = {v["code"] for v in rng.sample(VARIABLES, 3)}  # never reported: no_data
    for variable in VARIABLES:
        if variable["code"] in never:
            continue
        stock = variable["aggregation"] == "last"
        for quarter in (1, 2, 3, 4):
            if rng.random() < 0.03:  # a quarter not reported: partial_data
                continue
            value = rng.randint(80, 200) if stock else rng.randint(0, 60)
            rows.append(
                {"variable": variable["code"], "year": YEAR, "quarter": quarter, "value": value}
            )
    return rows


def target_items(index: int, indicators: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The targets of the `index`-th agency's indicators ({id, code}): an annual target, for
    half of them year-to-date quarter targets too; some none (no_target), some zero."""
    rng = random.Random(-index)
    for indicator in indicators:
        draw = rng.random()
        if draw < 0.05:
            continue
        annual = 0 if draw < 0.08 else rng.randint(50, 100)
        quarters = {}
        if rng.random() < 0.5 and annual:
            quarters = {q: round(annual * q / 4, 2) for q in (1, 2, 3, 4)}
        yield {"indicator_id": indicator["id"], "annual": annual, "quarters": quarters}
