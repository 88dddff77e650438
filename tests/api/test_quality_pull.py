"""The quality of each achievement in the pull: the findings that touch its indicator,
counted per severity, JSON and CSV alike; computed from the current data for a quarter not
verified, and as kept with the verification for a verified one, so that a rule added later
moves nothing of an official figure."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

from sqlmodel import col, select

from app.models import SealedFigure
from tests.api.helpers import indicator_id

API = "/api/v1"
YEAR = 2025
PLANTED = {"ppks_rehabilitasi": 67, "ppks_terdata": 40}  # 67 served of 40 registered


def put_values(client, headers, quarter: int, values: dict[str, float]) -> None:
    answer = client.put(
        f"{API}/data-values/{YEAR}/{quarter}", headers=headers, json={"values": values}
    )
    assert answer.status_code == 200, answer.text


def pulled(client, headers, code: str, quarter: int = 1, **params: Any) -> dict[str, Any]:
    answer = client.get(
        f"{API}/achievements",
        headers=headers,
        params={"year": YEAR, "quarter": quarter, "indicator": code, **params},
    )
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["items"]
    return item


def findings(client, headers, unit: str, quarter: int = 1) -> list[dict[str, Any]]:
    answer = client.get(f"{API}/periods/{YEAR}/{quarter}/units/{unit}/checks", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["findings"]


def expected_quality(found: list[dict[str, Any]], code: str) -> dict[str, Any]:
    touching = [f for f in found if code in f["indicators"]]
    counts = Counter(f["severity"] for f in touching)
    return {
        "error": counts["error"],
        "warning": counts["warning"],
        "info": counts["info"],
        "errors_explained": all(f["explanation"] for f in touching if f["severity"] == "error"),
    }


def step(client, headers, action: str, unit: str = "BID_RPJS", **body: Any) -> dict[str, Any]:
    answer = client.post(
        f"{API}/periods/{YEAR}/1/units/{unit}/{action}", headers=headers, json=body or None
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_planted_anomaly_is_counted_in_the_pull(client, admin):
    clean = pulled(client, admin, "KADIS.1.2")
    put_values(client, admin, 1, PLANTED)
    item = pulled(client, admin, "KADIS.1.2")
    found = findings(client, admin, "BID_RPJS")
    # The share above 100% and the seeded rule (served at most registered), both errors.
    assert item["quality"] == expected_quality(found, "KADIS.1.2")
    assert item["quality"]["error"] == 2 and item["quality"]["errors_explained"] is False
    assert clean["quality"]["error"] == 0
    # An indicator over another unit's variables is not touched by them.
    other = pulled(client, admin, "KADIS.1.1")
    assert other["quality"] == expected_quality(findings(client, admin, "BID_PSM"), "KADIS.1.1")
    assert other["quality"]["error"] == 0


def test_the_csv_carries_the_same_counts(client, admin):
    put_values(client, admin, 1, PLANTED)
    answer = client.get(
        f"{API}/achievements",
        headers=admin,
        params={"year": YEAR, "quarter": 1, "format": "csv", "limit": 1000},
    )
    assert answer.status_code == 200, answer.text
    rows = {r["indicator_code"]: r for r in csv.DictReader(io.StringIO(answer.text))}
    row = rows["KADIS.1.2"]
    assert (row["quality_error"], row["quality_errors_explained"]) == ("2", "false")
    item = pulled(client, admin, "KADIS.1.2")
    for name in ("error", "warning", "info"):
        assert row[f"quality_{name}"] == str(item["quality"][name])


def test_explained_errors_are_said_explained(client, rpjs, admin):
    put_values(client, rpjs, 1, PLANTED)
    errors = [f["key"] for f in findings(client, rpjs, "BID_RPJS") if f["severity"] == "error"]
    step(client, rpjs, "submit", explanations={key: "Data luar kota" for key in errors})
    quality = pulled(client, admin, "KADIS.1.2")["quality"]
    assert quality["error"] == 2 and quality["errors_explained"] is True


def test_a_verified_quarter_keeps_the_quality_its_verifier_saw(
    client, session, rpjs, verifier, admin
):
    put_values(client, rpjs, 1, PLANTED)
    errors = [f["key"] for f in findings(client, rpjs, "BID_RPJS") if f["severity"] == "error"]
    step(client, rpjs, "submit", explanations={key: "Data luar kota" for key in errors})
    verified = step(client, verifier, "verify")
    signed = expected_quality(verified["findings"], "KADIS.1.2")
    assert pulled(client, admin, "KADIS.1.2")["quality"] == signed
    assert pulled(client, admin, "KADIS.1.2", verified_only=True)["quality"] == signed

    # A rule added after the verification breaks the quarter's data: the checks (current
    # data) see it; the verified figure's quality does not move, sealed or computed.
    created = client.post(
        f"{API}/quality-rules",
        headers=admin,
        json={
            "agency": "DINSOSP3A",
            "code": "terdata_minimal",
            "name": "PPKS terdata paling sedikit 1000",
            "left": "ppks_terdata",
            "operator": ">=",
            "right": "1000",
            "severity": "error",
        },
    )
    assert created.status_code == 201, created.text
    now = findings(client, admin, "BID_RPJS")
    assert expected_quality(now, "KADIS.1.2")["error"] == 3
    assert pulled(client, admin, "KADIS.1.2")["quality"] == signed
    assert pulled(client, admin, "KADIS.1.2", verified_only=True)["quality"] == signed
    per_indicator = client.get(
        f"{API}/indicators/{indicator_id(session, 'KADIS.1.2')}/achievements",
        headers=admin,
        params={"year": YEAR, "verified_only": True},
    ).json()
    assert per_indicator[0]["quality"] == signed
    # And the seal check finds no drift in it.
    assert_no_quality_drift(client, admin)


def assert_no_quality_drift(client, headers) -> None:
    checked = client.get(f"{API}/seals/check", headers=headers, params={"year": YEAR})
    assert checked.status_code == 200, checked.text
    assert checked.json()["items"]
    assert not [c for c in checked.json()["items"] if "quality" in c["fields"]]


def test_a_figure_sealed_before_quality_is_served_with_the_verified_findings(
    client, session, rpjs, verifier, admin
):
    put_values(client, rpjs, 1, PLANTED)
    errors = [f["key"] for f in findings(client, rpjs, "BID_RPJS") if f["severity"] == "error"]
    step(client, rpjs, "submit", explanations={key: "Data luar kota" for key in errors})
    step(client, verifier, "verify")
    signed = pulled(client, admin, "KADIS.1.2", verified_only=True)["quality"]
    # As sealed before achievements carried `quality`.
    for figure in session.exec(select(SealedFigure).order_by(col(SealedFigure.id))):
        figure.figure = {k: v for k, v in figure.figure.items() if k != "quality"}
        session.add(figure)
    session.flush()
    assert pulled(client, admin, "KADIS.1.2", verified_only=True)["quality"] == signed
    assert_no_quality_drift(client, admin)
