"""The Docker files, checked by reading (no Docker engine is needed)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_wires_the_app_to_postgres():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app, db = compose["services"]["app"], compose["services"]["db"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:5432/" in app["environment"]["DATABASE_URL"]
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_dockerfile_runs_as_non_root_and_migrates_before_serving():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert lines[0].startswith("#") or lines[1].startswith("FROM python:3.11-slim")
    user_lines = [line for line in lines if line.startswith("USER ")]
    assert user_lines and user_lines[-1] != "USER root"
    cmd = next(line for line in lines if line.startswith("CMD"))
    assert cmd.index("iki migrate") < cmd.index("iki seed") < cmd.index("iki serve")
