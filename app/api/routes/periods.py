"""The verification workflow: a unit's quarter is submitted, verified, returned, reopened."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import (
    NO_DECREE_AT_ALL,
    NO_DECREE_OF_AGENCY,
    NO_SUCH_UNIT,
    AgencyFilter,
    AgencyOfRequest,
    Page,
    QuarterFilter,
    QuarterPath,
    UnitFilter,
    UnitPath,
    WriteSessionDep,
    YearPath,
    YearQuery,
    missing,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AchievementsReader, CurrentKey, DataReader, requires
from app.models import PeriodState
from app.schemas.common import ListPage
from app.schemas.quality import QualityReport
from app.schemas.workflow import PeriodPublic, PeriodStep, Step
from app.services import quality, workflow

router = APIRouter(
    route_class=JSONRoute,
    prefix="/periods",
    tags=["workflow"],
    responses=problem_schema_responses(401, 403, 422),
)


@router.get(
    "",
    summary="List units' quarters and their states",
    response_model=ListPage[PeriodPublic],
    responses=missing(NO_DECREE_AT_ALL),
)
def list_periods(
    _: AchievementsReader,
    session: SessionDep,
    page: Page,
    year: YearQuery,
    quarter: QuarterFilter = None,
    agency: AgencyFilter = None,
    unit: UnitFilter = None,
    state: Annotated[PeriodState | None, Query(description="Only quarters in this state")] = None,
) -> ListPage[PeriodPublic]:
    """Each unit's quarters of a year with their workflow state, who moved them last, when,
    and the note; a quarter that never moved is `open`. A quarter submitted or verified
    keeps the data-quality findings of that step with their explanations (`findings`): for
    a verified one, what its verifier saw."""
    return ListPage.of(
        workflow.list_periods(
            session, page, year=year, quarter=quarter, agency=agency, unit=unit, state=state
        ),
        page,
    )


@router.get(
    "/{year}/{quarter}/units/{unit}/checks",
    summary="Data-quality checks of a unit's quarter",
    response_model=QualityReport,
    responses={**problem_schema_responses(403), **missing(NO_SUCH_UNIT, NO_DECREE_OF_AGENCY)},
)
def get_period_checks(
    session: SessionDep,
    principal: DataReader,
    year: YearPath,
    quarter: QuarterPath,
    unit: UnitPath,
    agency: AgencyFilter = None,
) -> QualityReport:
    """What a verifier must see before the quarter becomes official, computed from the
    current data (nothing is cached): the built-in checks (a proportion's numerator above its
    denominator, a value without required evidence, a capaian far from its target, a zero
    denominator, an outlier against earlier quarters, a stock that jumps or drops, a missing
    value) and the agency's rules (`/quality-rules`), each finding with its stable `key` and
    the explanation given at submit. An operator reads its own units' checks only."""
    return quality.unit_checks(
        session, principal, agency_code=agency, unit_code=unit, year=year, quarter=quarter
    )


def _step(step: Step, summary: str, doc: str) -> None:
    @router.post(
        f"/{{year}}/{{quarter}}/units/{{unit}}/{step.value}",
        summary=summary,
        response_model=PeriodPublic,
        responses={
            **problem_schema_responses(409),
            **missing(NO_SUCH_UNIT, NO_DECREE_OF_AGENCY),
        },
        operation_id=f"{step.name.rstrip('_')}_period",
        description=doc,
        dependencies=[requires(workflow.TRANSITIONS[step].capability)],
    )
    def take_step(
        session: WriteSessionDep,
        principal: CurrentKey,
        year: YearPath,
        quarter: QuarterPath,
        unit: UnitPath,
        body: PeriodStep | None = None,
        agency: AgencyOfRequest = None,
    ) -> PeriodPublic:
        return workflow.take_step(
            session,
            principal,
            step,
            agency_code=agency,
            unit_code=unit,
            year=year,
            quarter=quarter,
            body=body or PeriodStep(),
        )


_step(
    Step.submit,
    "Submit a unit's quarter for verification",
    "An operator of the unit (or an admin) submits its quarter: from `open` or `returned` to "
    "`submitted`. Its data is then locked. The quarter's data-quality checks run first: a "
    "quarter with errors is refused (409 `quality_errors`, listing them) unless each error is "
    "explained in `explanations` by its key; the findings and explanations are kept with the "
    "step.",
)
_step(
    Step.verify,
    "Verify a unit's quarter",
    "A verifier or admin verifies a `submitted` quarter; its capaian become official "
    "(`verified_only=true`). Four eyes: a key that wrote data of the quarter may not verify "
    "it (409 `self_verification`, naming who wrote it). Warnings and explained errors do not "
    "stop it; an error found since the submit must be explained (409 `quality_errors`). The "
    "findings as the verifier saw them, with their explanations, are kept with the quarter.",
)
_step(
    Step.return_,
    "Return a unit's quarter to its operators",
    "A verifier or admin sends a `submitted` quarter back, with a `note` saying what to fix; "
    "its data is unlocked until it is submitted again.",
)
_step(
    Step.reopen,
    "Reopen a verified quarter",
    "A verifier or admin reopens a `verified` quarter, with a `note` saying why; it is `open` "
    "(and unlocked) again.",
)
