"""A city's seed: the shipped agency copied as many times as asked, each under its own code.

Other bench scripts build on it: `city_seed_dir(target, agencies)` writes the seed folder and
answers the agency codes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

SEED_DIR = Path(__file__).resolve().parents[1] / "seed"
AGENCY_FOLDER = SEED_DIR / "dinsosp3a-probolinggo"


def agency_code(number: int) -> str:
    """The code of the city's agency number `number` (from 1): K001, K002 ..."""
    return f"K{number:03d}"


def city_seed_dir(target: Path, agencies: int) -> list[str]:
    """Write into `target` a seed of `agencies` copies of the shipped agency and the rating
    scale; the agencies' codes.

    Only each copy's agency code and name differ: unit, position, variable and indicator codes
    are unique within their agency, and a decree number within its agency, so the other files
    are copied as they are."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SEED_DIR / "rating_scale.yaml", target / "rating_scale.yaml")
    organization = yaml.safe_load((AGENCY_FOLDER / "organization.yaml").read_text("utf-8"))
    name = organization["agency"]["name"]
    codes = []
    for number in range(1, agencies + 1):
        code = agency_code(number)
        folder = target / code.lower()
        shutil.copytree(AGENCY_FOLDER, folder)
        organization["agency"].update(code=code, name=f"{name} ({code})")
        (folder / "organization.yaml").write_text(
            yaml.safe_dump(organization, allow_unicode=True, sort_keys=False), "utf-8"
        )
        codes.append(code)
    return codes
