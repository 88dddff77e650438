"""Use the client generated from the live /openapi.json as an API consumer would: pull the
achievements of 2025 quarter 1, write a realization, read the answers as typed models.

Run by .ci/fuzz with IKI_BASE (the server) and IKI_KEY (an admin key) set."""

import os
import sys

from iki_service_client import AuthenticatedClient
from iki_service_client.api.achievements import list_achievements
from iki_service_client.api.realizations import put_realization
from iki_service_client.models import (
    AchievementPublic,
    CursorPageAchievementPublic,
    DataValuesPut,
    DataValuesPutValues,
    ProblemDetail,
)


def main() -> None:
    client = AuthenticatedClient(base_url=os.environ["IKI_BASE"], token=os.environ["IKI_KEY"])

    page = list_achievements.sync(client=client, year=2025, quarter=1)
    assert isinstance(page, CursorPageAchievementPublic), page
    assert page.total > 0 and page.items, "the seeded SK has achievements"
    first = page.items[0]
    assert first.year == 2025 and first.quarter == 1 and first.indicator.code
    print(f"list_achievements: {page.total} indicators, first {first.indicator.code}")

    values = DataValuesPutValues.from_dict({"psks_diberdayakan": 30, "psks_terdata": 200})
    body = DataValuesPut(values=values, note="TW I (generated client)")
    answer = put_realization.sync(1, 2025, 1, client=client, body=body)
    assert isinstance(answer, AchievementPublic), answer
    assert answer.values.additional_properties == {"psks_diberdayakan": 30, "psks_terdata": 200}
    assert answer.quarter_realization == 15.0, answer.quarter_realization
    print(f"put_realization: {answer.indicator.code} Q1 realization {answer.quarter_realization}")

    # Errors come back typed too: a problem, not an untyped body.
    refused = put_realization.sync(1, 2001, 1, client=client, body=body)
    assert isinstance(refused, ProblemDetail) and refused.status == 404, refused
    assert refused.code == "year_not_in_decree", refused.code
    print(f"put_realization (2001): {refused.status} {refused.code}")


if __name__ == "__main__":
    main()
    sys.exit(0)
