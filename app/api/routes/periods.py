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
from app.core.security import AchievementsReader, CurrentKey, requires
from app.models import PeriodState
from app.schemas.common import ListPage
from app.schemas.workflow import PeriodPublic, PeriodStep, Step
from app.services import workflow

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
    and the note; a quarter that never moved is `open`."""
    return ListPage.of(
        workflow.list_periods(
            session, page, year=year, quarter=quarter, agency=agency, unit=unit, state=state
        ),
        page,
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
    "`submitted`. Its data is then locked.",
)
_step(
    Step.verify,
    "Verify a unit's quarter",
    "A verifier or admin verifies a `submitted` quarter; its capaian become official "
    "(`verified_only=true`). Four eyes: a key that wrote data of the quarter may not verify "
    "it (409 `self_verification`, naming who wrote it).",
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
