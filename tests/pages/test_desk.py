"""Meja verifikasi through HTTP: the grid of units by quarters, one unit's quarter (values,
the quarter before, notes, evidence, findings, history) and the workflow steps posted from
its page, refused and accepted as the API refuses and accepts them."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlmodel import col, select

from app.core.types import MAX_TEXT
from app.models import AuditEvent, DataValue, Period, Role, Variable
from app.services import audit
from app.services.data_values import QuarterValues, write_quarter
from app.services.people import resolve_session
from tests.api.test_quality import period as api_period
from tests.api.test_quality import put_values, step
from tests.pages.test_sign_in import csrf, make_person, sign_in

API = "/api/v1"
YEAR = 2025  # the seeded decree's, as in tests.api.test_quality
PSM_CLEAN = {
    "psks_diberdayakan": 20,
    "psks_berpartisipasi": 20,
    "psks_terdata": 100,
    "tmp_terkelola": 20,
    "tmp_terdata": 100,
}
"""A quarter of Bidang PSM without any error: a submit passes."""
NUMERATOR = "numerator_exceeds_denominator:KADIS.1.2"
RULE = "rule_violated:ppks_rehabilitasi_maks_terdata"
BUTTONS = {
    "ajukan": "Ajukan",
    "verifikasi": "Verifikasi",
    "kembalikan": "Kembalikan",
    "buka-kembali": "Buka kembali",
}
RPJS_ERRORS = {"ppks_rehabilitasi": 67, "ppks_terdata": 40}
"""67 served of 40 registered: two errors (the proportion, and the agency's rule)."""


# Reading the pages ----------------------------------------------------------------------------


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def unit_url(unit: str, quarter: int = 1, **query: str) -> str:
    extra = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/verifikasi/{YEAR}/{quarter}/{unit}" + (f"?{extra}" if extra else "")


def get_page(client, url: str, status: int = 200) -> str:
    answer = client.get(url)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def grid_states(page: str) -> dict[tuple[str, int], str]:
    """The grid's state of each (unit, quarter)."""
    found = re.findall(
        rf'href="/verifikasi/{YEAR}/(\d)/([A-Z_]+)[^"]*"[^>]*><span class="state state-(\w+)"',
        page,
    )
    return {(unit, int(quarter)): state for quarter, unit, state in found}


def page_state(page: str) -> str:
    found = re.search(r'<dt>Status</dt><dd><span class="state state-(\w+)">', page)
    assert found is not None
    return found.group(1)


def step_forms(page: str) -> list[str]:
    """The steps whose forms the page shows."""
    return re.findall(r'<form method="post" action="/verifikasi/\d+/\d/[A-Z_]+/([a-z-]+)', page)


def value_row(page: str, code: str) -> list[str]:
    """The cells of the values table's row of a variable, as text."""
    found = re.search(
        rf'<tr>\s*<th scope="row"><span class="wrap">{code}</span>.*?</tr>', page, re.S
    )
    assert found is not None, code
    return [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", found.group(0), re.S)]


def history_of(page: str, code: str) -> list[list[str]]:
    """The rows of a variable's history, as the cells' text."""
    found = re.search(rf"<details>\s*<summary>{code} — .*?</details>", page, re.S)
    assert found is not None, code
    rows = re.findall(r"<tr>\s*<td>(.*?)</tr>", found.group(0), re.S)
    return [[text_of(c) for c in re.split(r"</td>\s*<td[^>]*>", row)] for row in rows]


def findings_of(page: str) -> dict[str, list[str]]:
    """The findings table: each finding's key -> (severity, message, explanation)."""
    section = page.split('<h2 id="temuan">', 1)[1].split('<h2 id="riwayat">', 1)[0]
    found = {}
    for row in re.findall(r"<tr>\s*<td>(.*?)</tr>", section, re.S):
        cells = [text_of(c) for c in re.split(r"</td>\s*<td[^>]*>", row)]
        key = cells[1].rsplit(" ", 1)[-1]
        found[key] = cells
    return found


# Acting ---------------------------------------------------------------------------------------


def post_step(client, unit: str, langkah: str, quarter: int = 1, *, token=True, **fields: Any):
    form = dict(fields)
    if token:
        form["csrf_token"] = csrf(client, "/")
    return client.post(
        f"/verifikasi/{YEAR}/{quarter}/{unit}/{langkah}", data=form, follow_redirects=False
    )


def submit_explained(client, rpjs) -> None:
    """Bidang RPJS's first quarter submitted by its operator key, its two errors explained."""
    put_values(client, rpjs, 1, RPJS_ERRORS)
    explained = {NUMERATOR: "a", RULE: "b"}
    assert step(client, rpjs, "submit", "BID_RPJS", explanations=explained).status_code == 200


def person_signs_in(client, session, name: str, role: Role, units: tuple[str, ...] = ()):
    make_person(session, name, role, units)
    assert sign_in(client, name).status_code == 303
    signed_in = resolve_session(session, client.cookies["iki_session"])
    assert signed_in is not None
    return signed_in.principal


# The grid -------------------------------------------------------------------------------------


def test_the_grid_shows_each_quarters_state_and_who_moved_it(client, session, psm, rpjs, verifier):
    put_values(client, psm, 1, PSM_CLEAN)
    assert step(client, psm, "submit", "BID_PSM").status_code == 200
    put_values(client, rpjs, 2, {"ppks_rehabilitasi": 20, "ppks_terdata": 100})
    assert step(client, rpjs, "submit", "BID_RPJS", 2).status_code == 200
    assert step(client, verifier, "return", "BID_RPJS", 2, note="Periksa lagi").status_code == 200
    person_signs_in(client, session, "pembaca esakip", Role.reader)

    page = get_page(client, "/verifikasi")  # the latest decree's year
    states = grid_states(page)
    assert len(states) == 6 * 4
    assert states.pop(("BID_PSM", 1)) == "submitted"
    assert states.pop(("BID_RPJS", 2)) == "returned"
    assert set(states.values()) == {"open"}
    psm_row = re.search(r'<th scope="row">BID_PSM<br>.*?</tr>', page, re.S)
    assert psm_row is not None
    cells = [text_of(c) for c in re.findall(r"<td>(.*?)</td>", psm_row.group(0), re.S)]
    assert cells[0].startswith("diajukan psm-operator") and cells[1] == "terbuka"
    assert "dikembalikan kepala-dinas" in text_of(page)
    assert grid_states(get_page(client, f"/verifikasi?tahun={YEAR}")) == grid_states(page)
    # A year without a decree, and a year that is not one, are refused in words.
    assert "tidak ada SK" in get_page(client, "/verifikasi?tahun=2031", 404)
    get_page(client, "/verifikasi?tahun=dua", 422)


def test_the_grid_of_several_agencies_names_the_agency(client, session, admin):
    for path, body in (
        ("agencies", {"code": "DINKES", "name": "Dinas Kesehatan"}),
        ("units", {"agency": "DINKES", "code": "BID_PSM", "name": "Bidang PSM Dinkes"}),
    ):
        assert client.post(f"{API}/{path}", headers=admin, json=body).status_code == 201
    person_signs_in(client, session, "kepala dinas", Role.verifier)
    # DINKES comes first by code but has no decree: the grid opens on the agency that has.
    page = get_page(client, "/verifikasi")
    assert '<option value="DINSOSP3A" selected>' in page and 'value="DINKES"' in page
    assert len(grid_states(page)) == 24
    assert f'href="/verifikasi/{YEAR}/1/BID_PSM?agency=DINSOSP3A"' in page
    assert "tidak ada SK" in get_page(client, f"/verifikasi?agency=DINKES&tahun={YEAR}", 404)
    get_page(client, "/verifikasi?agency=NOPE", 422)
    # One unit's quarter names its agency when there are several, as the API asks.
    assert "Bidang Pemberdayaan Sosial" in get_page(client, unit_url("BID_PSM", agency="DINSOSP3A"))
    get_page(client, unit_url("BID_PSM"), 422)


# One unit's quarter ---------------------------------------------------------------------------


def test_a_units_quarter_shows_values_the_quarter_before_notes_evidence_findings_history(
    client, session, rpjs
):
    put_values(
        client, rpjs, 1, {"ppks_rehabilitasi": 30, "ppks_terdata": 40},
        note="Data TW I", evidence="https://siks.example/tw1",
    )  # fmt: skip
    put_values(client, rpjs, 2, {"ppks_rehabilitasi": 50, "ppks_terdata": 40})
    put_values(
        client, rpjs, 2, {"ppks_rehabilitasi": 67},
        note="Termasuk <b>luar kota</b>", evidence="https://siks.example/tw2?a=1&b=2",
    )  # fmt: skip
    # A link of another scheme stored before such links were refused shows as plain text.
    terdata = session.exec(
        select(DataValue)
        .join(Variable, col(Variable.id) == col(DataValue.variable_id))
        .where(Variable.code == "ppks_terdata", DataValue.quarter == 2)
    ).one()
    terdata.evidence = "javascript:alert(1)"
    session.add(terdata)
    session.commit()
    person_signs_in(client, session, "kepala dinas", Role.verifier)

    page = get_page(client, unit_url("BID_RPJS", 2))
    assert page_state(page) == "open"
    rehabilitasi = value_row(page, "ppks_rehabilitasi")
    assert rehabilitasi[:4] == ["orang", "67", "30", "Termasuk <b>luar kota</b>"]
    assert rehabilitasi[4] == "https://siks.example/tw2?a=1&b=2"
    assert '<a href="https://siks.example/tw2?a=1&amp;b=2"' in page
    assert "<b>luar kota</b>" not in page  # escaped
    assert value_row(page, "ppks_terdata")[4] == "javascript:alert(1)"
    assert 'href="javascript:' not in page.lower()
    assert value_row(page, "ppks_perlindungan_jaminan")[1:3] == ["belum diisi", "belum diisi"]

    found = findings_of(page)
    assert found[NUMERATOR][0] == "galat" and found[RULE][0] == "galat"
    assert "67" in found[NUMERATOR][1] and found[NUMERATOR][2] == "belum dijelaskan"
    assert found["missing_value:ppks_perlindungan_jaminan"][0] == "peringatan"

    history = history_of(page, "ppks_rehabilitasi")
    assert [row[1:5] for row in history] == [
        ["rpjs-operator (operator)", "-", "50", "terbuka"],
        ["rpjs-operator (operator)", "50", "67", "terbuka"],
    ]
    assert "Termasuk <b>luar kota</b>" in history[1][5]
    assert history_of(page, "ppks_terdata")[-1][5] == "javascript:alert(1)"

    # The first quarter has no quarter before it, and says so.
    first = get_page(client, unit_url("BID_RPJS", 1))
    assert value_row(first, "ppks_rehabilitasi")[:5] == [
        "orang", "30", "tidak ada", "Data TW I", "https://siks.example/tw1",
    ]  # fmt: skip
    assert "TW I: tidak ada triwulan sebelumnya" in first


def test_the_page_of_a_quarter_reads_in_a_fixed_number_of_queries(
    client, session, rpjs, count_statements
):
    person_signs_in(client, session, "kepala dinas", Role.verifier)
    put_values(client, rpjs, 2, {"ppks_rehabilitasi": 5})
    count_statements.statements.clear()
    get_page(client, unit_url("BID_RPJS", 2))
    few = count_statements.count
    for value in (10, 20, 30):
        put_values(client, rpjs, 1, dict.fromkeys(["ppks_rehabilitasi", "ppks_terdata"], value))
        put_values(client, rpjs, 2, {"ppks_perlindungan_jaminan": value, "ppks_terdata": 50})
    count_statements.statements.clear()
    page = get_page(client, unit_url("BID_RPJS", 2))
    assert len(history_of(page, "ppks_perlindungan_jaminan")) == 3
    assert count_statements.count == few, count_statements.statements


# Steps ----------------------------------------------------------------------------------------


def test_an_operator_submits_with_explanations(client, session, rpjs):
    put_values(client, rpjs, 1, RPJS_ERRORS)
    principal = person_signs_in(client, session, "operator rpjs", Role.operator, ("BID_RPJS",))
    page = get_page(client, unit_url("BID_RPJS"))
    assert step_forms(page) == ["ajukan"]
    assert f'name="penjelasan:{NUMERATOR}"' in page and f'name="penjelasan:{RULE}"' in page

    # Errors without explanations: refused with the findings listed, nothing stored.
    before = session.exec(select(AuditEvent.id)).all()
    refused = post_step(client, "BID_RPJS", "ajukan", **{f"penjelasan:{RULE}": "  "})
    assert refused.status_code == 409
    assert "2 temuan kualitas data berderajat galat" in refused.text
    assert f"({NUMERATOR})" in refused.text and page_state(refused.text) == "open"
    assert session.exec(select(AuditEvent.id)).all() == before
    assert api_period(client, rpjs, "BID_RPJS")["state"] == "open"

    explained = {f"penjelasan:{NUMERATOR}": "Termasuk PPKS luar kota", f"penjelasan:{RULE}": "Idem"}
    done = post_step(client, "BID_RPJS", "ajukan", catatan="Data TW I lengkap", **explained)
    assert done.status_code == 303
    assert done.headers["location"] == f"/verifikasi/{YEAR}/1/BID_RPJS?selesai=ajukan"
    page = get_page(client, done.headers["location"])
    assert "telah diajukan" in page and page_state(page) == "submitted"
    assert step_forms(page) == []  # submitted: nothing more for the operator
    assert findings_of(page)[NUMERATOR][2] == "Termasuk PPKS luar kota"
    assert "Data TW I lengkap" in page and "operator rpjs (operator)" in page
    stored = api_period(client, rpjs, "BID_RPJS")
    assert stored["state"] == "submitted"
    assert stored["explanations"] == {NUMERATOR: "Termasuk PPKS luar kota", RULE: "Idem"}
    # The step is audited under the person's name.
    (event,) = session.exec(
        select(AuditEvent).where(AuditEvent.entity == "period", AuditEvent.action == "submit")
    ).all()
    assert (event.actor, event.actor_id) == ("operator rpjs", principal.identity)


def test_a_verifier_returns_with_a_note_that_the_page_shows(client, session, psm, verifier):
    put_values(client, psm, 1, PSM_CLEAN)
    assert step(client, psm, "submit", "BID_PSM").status_code == 200
    person_signs_in(client, session, "kepala dinas", Role.verifier)
    page = get_page(client, unit_url("BID_PSM"))
    assert step_forms(page) == ["verifikasi", "kembalikan"]

    refused = post_step(client, "BID_PSM", "kembalikan", catatan="   ")
    assert refused.status_code == 422 and "wajib diisi" in refused.text
    assert 'id="catatan-kembalikan" name="catatan"' in refused.text
    assert 'aria-invalid="true" aria-describedby="galat-catatan-kembalikan"' in refused.text
    assert api_period(client, psm, "BID_PSM")["state"] == "submitted"

    note = "Periksa <script>x</script> angka PSKS"
    done = post_step(client, "BID_PSM", "kembalikan", catatan=note)
    assert done.status_code == 303
    page = get_page(client, done.headers["location"])
    assert page_state(page) == "returned" and "telah dikembalikan" in page
    assert "Periksa &lt;script&gt;x&lt;/script&gt; angka PSKS" in page and "<script>x" not in page
    assert api_period(client, psm, "BID_PSM")["note"] == note
    assert grid_states(get_page(client, "/verifikasi"))[("BID_PSM", 1)] == "returned"
    # Returned: the operator's to submit again, no verifier's step.
    assert step_forms(page) == []


def test_four_eyes_a_second_verifier_verifies_and_a_reopen_needs_a_reason(client, session):
    writer = person_signs_in(client, session, "sekretaris", Role.verifier, ("BID_PSM",))
    audit.act_as(session, writer.name, str(writer.role), "desk-1", writer.identity)
    write_quarter(session, writer, None, QuarterValues(YEAR, 1, PSM_CLEAN), if_match=None)
    session.commit()
    page = get_page(client, unit_url("BID_PSM"))
    assert step_forms(page) == ["ajukan"]  # a verifier of the unit may submit it
    assert post_step(client, "BID_PSM", "ajukan").status_code == 303

    refused = post_step(client, "BID_PSM", "verifikasi")
    assert refused.status_code == 409
    assert "Prinsip empat mata" in refused.text and "Yang menulis: sekretaris." in refused.text
    assert page_state(refused.text) == "submitted"
    assert not session.exec(select(Period).where(Period.state == "verified")).all()

    person_signs_in(client, session, "kepala dinas", Role.verifier)
    done = post_step(client, "BID_PSM", "verifikasi", catatan="Sesuai bukti")
    assert done.status_code == 303
    page = get_page(client, done.headers["location"])
    assert page_state(page) == "verified" and "telah diverifikasi" in page
    assert step_forms(page) == ["buka-kembali"]

    refused = post_step(client, "BID_PSM", "buka-kembali")
    assert refused.status_code == 422 and page_state(refused.text) == "verified"
    done = post_step(client, "BID_PSM", "buka-kembali", catatan="Salah ketik psks_terdata")
    assert done.status_code == 303
    page = get_page(client, done.headers["location"])
    assert page_state(page) == "open" and "Salah ketik psks_terdata" in page
    # A step the state does not allow is refused in words, naming the steps that are.
    refused = post_step(client, "BID_PSM", "verifikasi")
    assert refused.status_code == 409
    assert "berstatus terbuka" in refused.text and "ajukan" in text_of(refused.text)


def test_a_verify_explains_only_what_nobody_explained(client, session, rpjs, admin):
    submit_explained(client, rpjs)
    person_signs_in(client, session, "kepala dinas", Role.verifier)
    page = get_page(client, unit_url("BID_RPJS"))
    assert "penjelasan:" not in page  # every error was explained at submit
    again = post_step(client, "BID_RPJS", "verifikasi", **{f"penjelasan:{NUMERATOR}": "lagi"})
    assert again.status_code == 422 and "sudah dijelaskan saat diajukan" in again.text
    returned = post_step(
        client, "BID_RPJS", "kembalikan", catatan="x", **{f"penjelasan:{NUMERATOR}": "c"}
    )
    assert returned.status_code == 422 and "hanya dapat diberikan saat" in returned.text
    assert api_period(client, rpjs, "BID_RPJS")["state"] == "submitted"
    # An error found since the submit (a rule added) is the verifier's to explain.
    rule = {
        "agency": "DINSOSP3A",
        "code": "rehabilitasi_nihil",
        "name": "Belum ada rehabilitasi",
        "left": "ppks_rehabilitasi",
        "operator": "<=",
        "right": "0 * 1",
    }
    assert client.post(f"{API}/quality-rules", headers=admin, json=rule).status_code == 201
    page = get_page(client, unit_url("BID_RPJS"))
    assert re.findall(r'name="(penjelasan:[^"]+)"', page) == [
        "penjelasan:rule_violated:rehabilitasi_nihil"
    ]
    refused = post_step(client, "BID_RPJS", "verifikasi")
    assert refused.status_code == 409 and "(rule_violated:rehabilitasi_nihil)" in refused.text
    explained = {"penjelasan:rule_violated:rehabilitasi_nihil": "Aturan baru, data benar"}
    assert post_step(client, "BID_RPJS", "verifikasi", **explained).status_code == 303
    stored = api_period(client, rpjs, "BID_RPJS")
    assert stored["state"] == "verified"
    assert stored["explanations"] == {
        NUMERATOR: "a", RULE: "b", "rule_violated:rehabilitasi_nihil": "Aturan baru, data benar"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("role", "units", "state", "steps"),
    [
        (Role.reader, (), "open", []),
        (Role.reader, (), "submitted", []),
        (Role.auditor, (), "submitted", []),
        (Role.operator, ("BID_PSM",), "open", ["ajukan"]),
        (Role.operator, ("BID_PSM",), "submitted", []),
        (Role.verifier, (), "open", []),
        (Role.verifier, (), "submitted", ["verifikasi", "kembalikan"]),
        (Role.verifier, (), "verified", ["buka-kembali"]),
        (Role.admin, (), "open", ["ajukan"]),
        (Role.admin, (), "submitted", ["verifikasi", "kembalikan"]),
    ],
)
def test_buttons_are_shown_to_those_who_may_press_them(
    client, session, psm, verifier, role, units, state, steps
):
    put_values(client, psm, 1, PSM_CLEAN)
    if state in ("submitted", "verified"):
        assert step(client, psm, "submit", "BID_PSM").status_code == 200
    if state == "verified":
        assert step(client, verifier, "verify", "BID_PSM").status_code == 200
    person_signs_in(client, session, "orang", role, units)
    page = get_page(client, unit_url("BID_PSM"))
    assert page_state(page) == state
    assert step_forms(page) == steps
    buttons = re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', page)
    assert buttons == ["Keluar", *(BUTTONS[langkah] for langkah in steps)]


def test_a_viewer_has_no_desk(client, session):
    person_signs_in(client, session, "walikota", Role.viewer)
    assert "Meja verifikasi" not in get_page(client, "/")
    assert "Tidak berwenang" in get_page(client, "/verifikasi", 403)
    get_page(client, unit_url("BID_PSM"), 403)
    client.cookies.clear()
    assert client.get("/verifikasi", follow_redirects=False).headers["location"] == "/masuk"


def test_an_operator_sees_and_acts_on_their_units_only(client, session, rpjs, psm):
    submit_explained(client, rpjs)
    put_values(client, psm, 2, PSM_CLEAN)
    person_signs_in(client, session, "operator psm", Role.operator, ("BID_PSM",))
    assert {unit for unit, _ in grid_states(get_page(client, "/verifikasi"))} == {"BID_PSM"}
    get_page(client, unit_url("BID_RPJS"), 403)

    before = session.exec(select(AuditEvent.id)).all()
    token = csrf(client, unit_url("BID_PSM"))
    for langkah, quarter in (("kembalikan", 1), ("verifikasi", 1), ("ajukan", 2)):
        crafted = client.post(
            f"/verifikasi/{YEAR}/{quarter}/BID_RPJS/{langkah}",
            data={"csrf_token": token, "catatan": "bukan unit saya"},
        )
        assert crafted.status_code == 403, langkah
        assert "bukan unit Anda" in crafted.text and "ppks_rehabilitasi" not in crafted.text
    assert session.exec(select(AuditEvent.id)).all() == before
    assert api_period(client, rpjs, "BID_RPJS")["state"] == "submitted"
    assert api_period(client, rpjs, "BID_RPJS", 2)["state"] == "open"
    # Their own unit they may submit.
    assert post_step(client, "BID_PSM", "ajukan", 2).status_code == 303


def test_a_step_without_its_csrf_token_is_refused(client, session, psm):
    put_values(client, psm, 1, PSM_CLEAN)
    person_signs_in(client, session, "operator psm", Role.operator, ("BID_PSM",))
    refused = post_step(client, "BID_PSM", "ajukan", token=False)
    assert refused.status_code == 403 and "Formulir ditolak" in refused.text
    forged = post_step(client, "BID_PSM", "ajukan", token=False, csrf_token="x" * 43)
    assert forged.status_code == 403
    assert api_period(client, psm, "BID_PSM")["state"] == "open"


def test_bad_input_of_a_step_is_refused_in_words_and_nothing_is_stored(client, session, rpjs):
    put_values(client, rpjs, 1, RPJS_ERRORS)
    person_signs_in(client, session, "admin dinas", Role.admin)
    before = session.exec(select(AuditEvent.id)).all()
    explained = {f"penjelasan:{NUMERATOR}": "a", f"penjelasan:{RULE}": "b"}

    assert "Tidak ditemukan" in post_step(client, "BID_RPJS", "setujui").text
    assert post_step(client, "BID_RPJS", "setujui").status_code == 404
    long = post_step(client, "BID_RPJS", "ajukan", catatan="x" * (MAX_TEXT + 1), **explained)
    assert long.status_code == 422 and f"paling banyak {MAX_TEXT} karakter" in long.text
    assert page_state(long.text) == "open" and "x" * MAX_TEXT in long.text  # kept to fix
    control = post_step(
        client, "BID_RPJS", "ajukan", **explained | {f"penjelasan:{RULE}": "b\x00c"}
    )
    assert control.status_code == 422 and "karakter kendali" in control.text
    odd_key = post_step(client, "BID_RPJS", "ajukan", **explained, **{"penjelasan:<x>": "y"})
    assert odd_key.status_code == 422
    unknown = post_step(
        client, "BID_RPJS", "ajukan", **explained, **{"penjelasan:outlier:ppks_terdata": "y"}
    )
    assert unknown.status_code == 422 and "tidak ada temuan dengan kunci ini" in unknown.text
    many = {f"penjelasan:outlier:v{i}": "y" for i in range(501)}
    too_many = post_step(client, "BID_RPJS", "ajukan", **many)
    assert too_many.status_code == 422 and "terlalu banyak penjelasan" in too_many.text
    assert post_step(client, "BID_RPJS", "ajukan", 5).status_code == 422
    assert post_step(client, "NOPE", "ajukan").status_code == 404
    assert post_step(client, "bid rpjs", "ajukan").status_code == 422
    assert session.exec(select(AuditEvent.id)).all() == before
    assert api_period(client, rpjs, "BID_RPJS")["state"] == "open"
    assert post_step(client, "BID_RPJS", "ajukan", **explained).status_code == 303
