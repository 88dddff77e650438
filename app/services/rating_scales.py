"""Rating scales: the installation default and per-agency overrides."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from app.achievement.rating import Band, sorted_bands
from app.core.db import utcnow
from app.core.errors import InvalidInput, NotFound, WriteConflict
from app.models import Agency, RatingScale
from app.schemas.rating_scales import RatingBand, RatingScalePublic, RatingScalePut
from app.services import seals
from app.services.common import get_or_404, savepoint


def list_scales(session: Session) -> list[RatingScalePublic]:
    scales = session.exec(select(RatingScale).order_by(col(RatingScale.code))).all()
    users: dict[int, list[str]] = {}
    for agency in session.exec(select(Agency).where(col(Agency.rating_scale_id).is_not(None))):
        users.setdefault(agency.rating_scale_id or 0, []).append(agency.code)
    return [_view(s, users.get(s.id or 0, [])) for s in scales]


def get_scale(session: Session, code: str) -> RatingScalePublic:
    return next((s for s in list_scales(session) if s.code == code), None) or _missing(code)


def _missing(code: str) -> RatingScalePublic:
    raise NotFound(f"Rating scale '{code}' does not exist")


def put_scale(session: Session, code: str, data: RatingScalePut) -> RatingScalePublic:
    """Create or replace a scale; making it the default unsets the previous default."""
    scale = session.exec(select(RatingScale).where(RatingScale.code == code)).first()
    bands = sorted_bands([Band(b.min, b.code, b.label, b.color) for b in data.bands])
    stored_bands = [
        {"min": b.min, "code": b.code, "label": b.label, "color": b.color} for b in bands
    ]
    _refuse_rerating(session, scale, stored_bands, data.is_default, code)
    if scale is None:
        scale = RatingScale(code=code, name=data.name, bands=stored_bands)
    if data.is_default:
        for other in session.exec(select(RatingScale).where(col(RatingScale.is_default))):
            if other.code != code:
                other.is_default = False
                session.add(other)
    elif scale.is_default:
        raise InvalidInput(
            "This is the default scale; make another scale the default first", field="is_default"
        )
    scale.name, scale.bands, scale.is_default = data.name, stored_bands, data.is_default
    scale.updated_at = utcnow()
    # A concurrent writer may create the same code first.
    with savepoint(
        session, WriteConflict(f"Rating scale '{code}' was written by someone else; retry")
    ):
        session.add(scale)
    return get_scale(session, code)


def set_agency_scale(
    session: Session, agency_id: int, code: str | None
) -> RatingScalePublic | None:
    """Point an agency at a scale (or back at the default with None)."""
    agency = get_or_404(session, Agency, agency_id, "Agency")
    scale = None
    if code is not None:
        scale = session.exec(select(RatingScale).where(RatingScale.code == code)).first()
        if scale is None:
            raise InvalidInput(f"Rating scale '{code}' does not exist", field="code")
    if (scale.id if scale else None) != agency.rating_scale_id:
        seals.refuse_under_seal(
            f"The rating scale of {agency.code}",
            seals.held_periods(session, agency_ids=[agency_id]),
            field="code",
        )
    agency.rating_scale_id = scale.id if scale else None
    agency.updated_at = utcnow()
    session.add(agency)
    session.flush()
    return get_scale(session, code) if code else None


def _refuse_rerating(
    session: Session,
    scale: RatingScale | None,
    bands: list[dict[str, Any]],
    is_default: bool,
    code: str,
) -> None:
    """409 when the agencies a scale change would rate anew have submitted or verified
    quarters, whose predikat would move: those naming the scale when its bands change (and
    those naming none, if it is the default), those naming none when it becomes the
    default."""
    was_default = scale is not None and scale.is_default
    bands_change = scale is not None and scale.bands != bands
    conditions: list[ColumnElement[bool]] = []
    if scale is not None and bands_change:
        conditions.append(col(Agency.rating_scale_id).is_not_distinct_from(scale.id))
    if (bands_change and was_default) or (is_default and not was_default):
        conditions.append(col(Agency.rating_scale_id).is_(None))
    if not conditions:
        return
    agency_ids = [i for i in session.exec(select(Agency.id).where(or_(*conditions))) if i]
    if agency_ids:
        held = seals.held_periods(session, agency_ids=agency_ids)
        seals.refuse_under_seal(f"Rating scale '{code}'", held, field="bands")


def _view(scale: RatingScale, agencies: list[str]) -> RatingScalePublic:
    return RatingScalePublic(
        code=scale.code,
        name=scale.name,
        is_default=scale.is_default,
        bands=[RatingBand.model_validate(b) for b in scale.bands],
        agencies=sorted(agencies),
    )
