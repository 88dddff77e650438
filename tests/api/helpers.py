"""Small helpers shared by the API tests."""

from typing import Any

from sqlmodel import Session, select

from app.models import Indicator

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["title"] and body["detail"]
    return body


def indicator_id(session: Session, code: str) -> int:
    indicator = session.exec(select(Indicator).where(Indicator.code == code)).one()
    assert indicator.id is not None
    return indicator.id
