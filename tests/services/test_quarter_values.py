"""What a request writes for a quarter: the API's one note and evidence for all its values,
or (the entry form's) a note and evidence of each variable's own."""

from app.schemas.data_values import DataValuesPut
from app.services.data_values import KEEP, QuarterValues, Write


def test_the_apis_request_shares_its_note_and_evidence():
    body = DataValuesPut.model_validate(
        {"values": {"a": 1, "b": 2}, "note": "TW I", "evidence": "https://x.example/b"}
    )
    assert QuarterValues.of(2025, 1, body).writes() == [
        Write("a", 2025, 1, 1, "TW I", "https://x.example/b"),
        Write("b", 2025, 1, 2, "TW I", "https://x.example/b"),
    ]
    # Not sent: kept; sent as null: cleared.
    kept = QuarterValues.of(2025, 1, DataValuesPut.model_validate({"values": {"a": 1}}))
    assert kept.writes() == [Write("a", 2025, 1, 1, KEEP, KEEP)]
    cleared = DataValuesPut.model_validate({"values": {"a": 1}, "note": None})
    assert QuarterValues.of(2025, 1, cleared).writes() == [Write("a", 2025, 1, 1, None, KEEP)]


def test_a_variables_own_note_and_evidence_override_the_shared_ones():
    sent = QuarterValues(
        2025,
        2,
        {"a": 1, "b": 2, "c": 3},
        note="bersama",
        notes={"a": "milik a", "b": None},
        evidences={"b": "https://x.example/b", "c": KEEP},
    )
    assert sent.writes() == [
        Write("a", 2025, 2, 1, "milik a", KEEP),
        Write("b", 2025, 2, 2, None, "https://x.example/b"),
        Write("c", 2025, 2, 3, "bersama", KEEP),
    ]
    # A note for a variable that is not written writes nothing.
    assert QuarterValues(2025, 2, {"a": 1}, notes={"z": "x"}).writes() == [
        Write("a", 2025, 2, 1, KEEP, KEEP)
    ]
