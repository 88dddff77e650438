"""Perjanjian Kinerja targets: annual and year-to-date per quarter.

One write path: the targets of one indicator are a bulk write of one item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from app.achievement import ANNUAL, target_for
from app.core.db import utcnow
from app.core.errors import AppError, Conflict, InvalidInput, WriteConflict
from app.core.security import Principal
from app.models import Agency, Decree, Indicator, Target
from app.schemas.targets import (
    IndicatorTargetsPut,
    TargetsItemError,
    TargetsPublic,
    TargetsPut,
    TargetsWritten,
)
from app.services import seals
from app.services.common import id_of, not_found, quote, savepoint
from app.services.queries import indicator_in_year, not_of_year, require_decree

# A refused bulk write lists at most this many items (`rejected` counts them all).
MAX_ERRORS = 1000


def get_targets(session: Session, indicator_id: int, year: int) -> TargetsPublic:
    indicator, _ = indicator_in_year(session, indicator_id, year)
    rows = session.exec(
        select(Target).where(Target.indicator_id == indicator.id, Target.year == year)
    ).all()
    return _view(indicator, year, rows)


def set_targets(
    session: Session,
    principal: Principal,
    indicator_id: int,
    year: int,
    body: TargetsPut,
) -> TargetsPublic:
    """Replace an indicator's targets for a year (those not given are removed)."""
    item = IndicatorTargetsPut(
        indicator_id=indicator_id, annual=body.annual, quarters=body.quarters
    )
    try:
        return _write_targets(session, principal, year, [item]).items[0]
    except TargetsRejected as rejected:
        raise rejected.refusals[0].error from None


@dataclass(frozen=True)
class Refusal:
    """A refused item of a bulk write (its indicator as found, else as sent), and the error
    a write of it alone answers."""

    index: int
    field: str
    kind: str
    error: AppError
    indicator_id: int | None = None
    indicator: str | None = None
    agency: str | None = None

    @classmethod
    def of(cls, item: _Item, field: str, kind: str, error: AppError) -> Refusal:
        """The refusal of an item whose indicator was found."""
        indicator = item.indicator
        return cls(item.index, field, kind, error, indicator.id, indicator.code, item.agency)

    def public(self) -> TargetsItemError:
        return TargetsItemError(
            index=self.index,
            field=self.field,
            indicator_id=self.indicator_id,
            indicator=quote(self.indicator) if self.indicator is not None else None,
            agency=self.agency,
            code=self.kind,
            message=self.error.detail,
            quarters=self.error.extra.get("quarters"),
        )


class TargetsRejected(AppError):
    """A bulk write of targets with refused items: nothing is stored; the problem lists
    them. 409 when every refusal is a conflict with verified data, as a single write's would
    be; 422 otherwise."""

    status_code = 422
    code = "targets_rejected"
    title = "Targets rejected"

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        if all(isinstance(r.error, Conflict) for r in refusals):
            self.status_code = Conflict.status_code
        self.refusals = refusals
        super().__init__(
            f"{len(refusals)} item(s) refused; nothing was stored",
            rejected=len(refusals),
            errors=[r.public().model_dump(mode="json") for r in refusals[:MAX_ERRORS]],
        )


@dataclass(frozen=True)
class _Found:
    """An indicator a bulk write names, the year of its SK and its agency (id and code)."""

    indicator: Indicator
    year: int
    agency_id: int
    agency: str


@dataclass(frozen=True)
class _Item(_Found):
    """An item whose indicator was found: its targets as wanted, by quarter (0: annual)."""

    index: int
    wanted: dict[int, float]


def set_many_targets(
    session: Session, principal: Principal, year: int, items: Sequence[IndicatorTargetsPut]
) -> TargetsWritten:
    """Replace the targets for a year of every indicator the items name, all or nothing, in
    a fixed number of queries; a year of no decree is refused as a whole (404)."""
    require_decree(session, year)
    return _write_targets(session, principal, year, items)


def _write_targets(
    session: Session, principal: Principal, year: int, items: Sequence[IndicatorTargetsPut]
) -> TargetsWritten:
    found, refusals = _resolve(session, year, items)
    ids = [id_of(item.indicator) for item in found]
    current: dict[int, dict[int, Target]] = {ident: {} for ident in ids}
    if ids:
        for target in session.exec(
            select(Target).where(col(Target.indicator_id).in_(ids), Target.year == year)
        ):
            current[target.indicator_id][target.quarter] = target
    refusals += _refuse_rewriting_verified(session, year, found, current)
    if refusals:
        raise TargetsRejected(sorted(refusals, key=lambda r: r.index))

    now = utcnow()
    created: list[Target] = []
    updated = removed = unchanged = 0
    for item in found:
        rows = current[id_of(item.indicator)]
        gone = [quarter for quarter in rows if quarter not in item.wanted]
        for quarter in gone:
            session.delete(rows.pop(quarter))
        if gone:
            # A removed target leaves no row to carry the change: mark it on the indicator,
            # so that `updated_since` pulls notice it.
            item.indicator.updated_at = now
            session.add(item.indicator)
        removed += len(gone)
        for quarter, value in item.wanted.items():
            row = rows.get(quarter)
            if row is None:
                # Every field given: a default factory costs more than the rest of the row.
                row = Target(
                    indicator_id=id_of(item.indicator),
                    year=year,
                    quarter=quarter,
                    value=value,
                    created_at=now,
                    updated_at=now,
                    updated_by=principal.name,
                )
                rows[quarter] = row
                created.append(row)
            elif row.value == value:
                unchanged += 1
            else:
                row.value = value
                row.updated_at = now
                row.updated_by = principal.name
                updated += 1
    # A concurrent writer may create the same target first.
    conflict = WriteConflict(
        "These targets were set by someone else at the same time; read them and retry"
    )
    with savepoint(session, conflict):
        session.add_all(created)
    return TargetsWritten(
        year=year,
        items=[
            _view(item.indicator, year, list(current[id_of(item.indicator)].values()))
            for item in found
        ],
        created=len(created),
        updated=updated,
        removed=removed,
        unchanged=unchanged,
    )


def _resolve(
    session: Session, year: int, items: Sequence[IndicatorTargetsPut]
) -> tuple[list[_Item], list[Refusal]]:
    """The indicators the items name, with their agencies, in two queries at most; and the
    refusals of items naming no indicator, one of another year's SK, or one named before."""
    lookup = _Lookup.of(session, year, items)
    resolved: list[_Item] = []
    refusals: list[Refusal] = []
    first_of: dict[int, int] = {}
    for index, item in enumerate(items):
        hit = lookup.find(index, item)
        if isinstance(hit, Refusal):
            refusals.append(hit)
            continue
        wanted = dict(item.quarters)
        if item.annual is not None:
            wanted[ANNUAL] = item.annual
        found = _Item(hit.indicator, hit.year, hit.agency_id, hit.agency, index, wanted)
        named = f"body.{index}.{'indicator_id' if item.indicator_id is not None else 'indicator'}"
        other_year = not_of_year(hit.indicator, hit.year, year)
        if other_year is not None:
            refusals.append(Refusal.of(found, named, "other_year", other_year))
        elif (first := first_of.setdefault(id_of(hit.indicator), index)) != index:
            error = InvalidInput(
                f"Indicator {hit.indicator.code} of agency {hit.agency} is named by item {first} "
                "too: name each indicator once",
                field=named,
            )
            refusals.append(Refusal.of(found, named, "duplicate", error))
        else:
            resolved.append(found)
    return resolved, refusals


@dataclass(frozen=True)
class _Lookup:
    """The indicators a bulk write names, by id and by (agency code, indicator code)."""

    year: int
    by_id: dict[int, _Found]
    by_code: dict[tuple[str, str], _Found]
    agencies: list[str]

    @classmethod
    def of(cls, session: Session, year: int, items: Sequence[IndicatorTargetsPut]) -> _Lookup:
        named = [(item.agency, item.indicator) for item in items if item.indicator is not None]
        agencies = list(session.exec(select(Agency.code))) if named else []
        lookup = cls(year, {}, {}, agencies)
        ids = {item.indicator_id for item in items if item.indicator_id is not None}
        codes = {code for _, code in named}
        in_agencies = {a for a, _ in named if a is not None}
        if lookup.only_agency is not None:
            in_agencies.add(lookup.only_agency)
        for found in _indicators(session, year, ids, codes, in_agencies):
            lookup.by_id[id_of(found.indicator)] = found
            if found.year == year:
                lookup.by_code[(found.agency, found.indicator.code)] = found
        return lookup

    @property
    def only_agency(self) -> str | None:
        """The agency of an indicator named by code alone: the only one the service holds."""
        return self.agencies[0] if len(self.agencies) == 1 else None

    def find(self, index: int, item: IndicatorTargetsPut) -> _Found | Refusal:
        """The indicator an item names, or the item's refusal."""
        if item.indicator_id is not None:
            found = self.by_id.get(item.indicator_id)
            if found is None:
                field = f"body.{index}.indicator_id"
                error: AppError = not_found("Indicator", item.indicator_id)
                return Refusal(index, field, "unknown_indicator", error, item.indicator_id)
            return found
        code = item.indicator or ""
        agency = item.agency or self.only_agency
        field = f"body.{index}.agency"
        if agency is None:
            held = "several agencies" if self.agencies else "no agency yet"
            error = InvalidInput(
                f"Name the agency (its code) of {quote(code)}: the service holds {held}",
                field=field,
            )
            return Refusal(index, field, "agency_required", error, indicator=code)
        if agency not in self.agencies:
            error = InvalidInput(f"Unknown agency {agency!r}", field=field)
            return Refusal(index, field, "unknown_agency", error, indicator=code, agency=agency)
        found = self.by_code.get((agency, code))
        if found is None:
            field = f"body.{index}.indicator"
            error = InvalidInput(
                f"The SK of {self.year} of agency {agency} has no indicator {quote(code)}",
                field=field,
            )
            return Refusal(index, field, "unknown_indicator", error, indicator=code, agency=agency)
        return found


def _indicators(
    session: Session, year: int, ids: set[int], codes: set[str], agencies: set[str]
) -> list[_Found]:
    """The indicators with these ids, and those with these codes in the SK of `year` of these
    agencies (and maybe a few more: the caller matches the pairs), in one query."""
    wanted: list[ColumnElement[bool]] = []
    if ids:
        wanted.append(col(Indicator.id).in_(ids))
    if codes and agencies:
        wanted.append(
            and_(
                col(Decree.year) == year,
                col(Indicator.code).in_(codes),
                col(Agency.code).in_(agencies),
            )
        )
    if not wanted:
        return []
    query = (
        select(Indicator, Decree.year, Agency.id, Agency.code)
        .join(Decree, col(Decree.id) == Indicator.decree_id)
        .join(Agency, col(Agency.id) == Decree.agency_id)
        .where(or_(*wanted))
    )
    return [_Found(*row) for row in session.exec(query)]


def _refuse_rewriting_verified(
    session: Session,
    year: int,
    items: Sequence[_Item],
    current: Mapping[int, Mapping[int, Target]],
) -> list[Refusal]:
    """409 for each item that would change the target a submitted or verified quarter is
    measured against (the quarters of every agency and formula read in one query)."""
    changed: list[tuple[_Item, list[int]]] = []
    for item in items:
        before = {q: t.value for q, t in current[id_of(item.indicator)].items()}
        quarters = [q for q in (1, 2, 3, 4) if target_for(before, q) != target_for(item.wanted, q)]
        if quarters:
            changed.append((item, quarters))
    if not changed:
        return []
    held = seals.held_quarters_of(
        session, {(item.agency_id, item.indicator.formula) for item, _ in changed}, year
    )
    refusals = []
    for item, quarters in changed:
        hit = [h for h in held[(item.agency_id, item.indicator.formula)] if h.quarter in quarters]
        if hit:
            error = seals.under_seal(f"The targets of {item.indicator.code} for {year}", hit)
            refusals.append(Refusal.of(item, f"body.{item.index}", "verified_data", error))
    return refusals


def _view(indicator: Indicator, year: int, rows: Sequence[Target]) -> TargetsPublic:
    annual = next((t for t in rows if t.quarter == ANNUAL), None)
    return TargetsPublic(
        indicator_id=indicator.id or 0,
        indicator_code=indicator.code,
        year=year,
        annual=annual.value if annual else None,
        quarters={t.quarter: t.value for t in sorted(rows, key=lambda t: t.quarter) if t.quarter},
        updated_at=max((t.updated_at for t in rows), default=None),
        updated_by=max(rows, key=lambda t: t.updated_at).updated_by if rows else None,
    )
