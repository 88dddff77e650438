"""A whole quarter in Chromium, as the people of the agency play it (issue 19's "Done when").

The scenario, on BID_PSM's first quarter of 2025:
1. The operator of BID_PSM signs in and opens /isian/2025/1/BID_PSM; "abc" typed in a value
   and saved shows the inline error `#galat-psks_diberdayakan` (the input `aria-invalid`,
   described by it); then the unit's values are entered, saved (Simpan) and submitted
   (Ajukan).
2. Verifier A signs in, opens /verifikasi/2025/1/BID_PSM, sees the planted quality finding
   and returns the quarter (Kembalikan) with a note (catatan).
3. The operator corrects the value, saves and submits again.
4. Verifier B (not A: either may, and four eyes holds for both) verifies (Verifikasi).
5. The leadership (a viewer) opens /dasbor?tahun=2025&triwulan=1: KADIS.1.1 shows its
   verified capaian with its predikat and the predikat's colour; its row leads to
   /indikator/{id}?tahun=2025.
Each page is shot at desktop and phone width (artifacts/screenshots/), fits its width, and
axe-core finds no serious or critical violation on it.

BID_PSM's variables (seed/dinsosp3a-probolinggo/variables.yaml) and the indicators over them
(decree-2025.yaml, all of the Kepala Dinas, source unit BID_PSM):
- KADIS.1.1 = psks_diberdayakan / psks_terdata * 100   (sum / last)
- KADIS.2.1 = psks_berpartisipasi / psks_terdata * 100 (sum / last)
- KADIS.1.5 = tmp_terkelola / tmp_terdata * 100        (last / last)
The seed sets no targets: the test sets them through the API (an admin key), for the year and
its first quarter alike: KADIS.1.1 50, KADIS.2.1 30, KADIS.1.5 100 (%).

The planted finding. The operator first enters psks_diberdayakan = 5 (a typing slip for 48)
of psks_terdata = 100: KADIS.1.1's capaian is then 5% / 50% = 10%, below the agency's lower
band (50%), so app/quality/rules.py's `capaian_far_from_target` reports the warning
`capaian_far_from_target:KADIS.1.1` ("... jauh di bawah target ..."). A warning does not stop
the submit, so the quarter reaches the verifier, who sees it on the desk and returns the
quarter: the check caught what a person then corrects. Every other value is in line
(KADIS.2.1 30/100 = 30% of 30, KADIS.1.5 2/2 = 100% of 100; no earlier quarter, so no outlier
nor stock change): that warning is the quarter's only finding. Corrected to 48, KADIS.1.1 is
48% of 50% = 96%: "Sangat Tinggi" (at least 91, app/achievement/rating.py), #1a9850.

An error-level finding is planted by the second test, on BID_RPJS: ppks_rehabilitasi above
ppks_terdata is a numerator above its denominator (`numerator_exceeds_denominator:KADIS.1.2`)
and breaks the seed's rule `ppks_rehabilitasi_maks_terdata` (quality-rules.yaml), both errors:
the submit is refused (409) until each is explained (`penjelasan:<finding key>`), and the
refusal is shown in words.

Both tests change the live server's database (a quarter's state), each in a unit of its own:
another test must not use BID_PSM's or BID_RPJS's first quarter of 2025.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session, select

from app.models import Indicator, Role
from tests.browser.helpers import (
    Account,
    LiveServer,
    assert_fits_its_width,
    check_a11y,
    shoot,
    sign_in,
    sign_out,
    submit,
)

YEAR, QUARTER, UNIT = 2025, 1, "BID_PSM"
ENTRY = f"/isian/{YEAR}/{QUARTER}/{UNIT}"
DESK = f"/verifikasi/{YEAR}/{QUARTER}/{UNIT}"
DASHBOARD = f"/dasbor?tahun={YEAR}&triwulan={QUARTER}"
TARGETS = {"KADIS.1.1": 50, "KADIS.2.1": 30, "KADIS.1.5": 100}
VALUES = {
    "psks_diberdayakan": "5",  # the slip: 48 was meant
    "psks_berpartisipasi": "30",
    "psks_terdata": "100",
    "tmp_terkelola": "2",
    "tmp_terdata": "2",
}
CORRECTED = "48"
SANGAT_TINGGI = "rgb(26, 152, 80)"  # #1a9850
RETURN_NOTE = "psks_diberdayakan salah ketik: 5, seharusnya 48. Mohon diperbaiki."
# The README's two screenshots, copied when the scenario runs.
KEPT = {
    ("dasbor", False): "docs/screenshots/dasbor-desktop.png",
    ("verifikasi", True): "docs/screenshots/verifikasi-phone.png",
}


def set_targets(live_server: LiveServer, targets: dict[str, float]) -> None:
    """The targets (the same for the year and its first quarter), set as the agency's
    planner does: through the API."""
    items = [
        {"indicator": code, "annual": value, "quarters": {str(QUARTER): value}}
        for code, value in targets.items()
    ]
    answer = httpx.put(
        f"{live_server.base}/api/v1/targets/{YEAR}",
        headers=live_server.key(Role.admin),
        json=items,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def indicator_id(live_server: LiveServer, code: str) -> int:
    with Session(live_server.engine) as session:
        return session.exec(select(Indicator.id).where(Indicator.code == code)).one()


def form_of(page: Page, button: str) -> Locator:
    """The form whose button is named `button` (the desk has one form per step)."""
    return page.locator("form").filter(has=page.get_by_role("button", name=button, exact=True))


def enter(page: Page, values: dict[str, str]) -> None:
    """Type `values` (by variable code) in the entry form and save them (Simpan)."""
    for code, entered in values.items():
        page.locator(f"#nilai-{code}").fill(entered)
    assert submit(page, "Simpan").status == 200
    expect(page.locator(".field-error")).to_have_count(0)
    for code, entered in values.items():
        expect(page.locator(f"#nilai-{code}")).to_have_value(entered)


def submit_quarter(page: Page) -> None:
    """Press Ajukan (on the entry form, or on the desk): the quarter is submitted, and the
    desk it leads to says so."""
    assert submit(page, "Ajukan").status == 200
    expect(page.locator(".state-submitted").first).to_be_visible()


def switch_to(page: Page, account: Account) -> None:
    """Sign out whoever is signed in on `page` and sign `account` in."""
    if page.get_by_role("button", name="Keluar", exact=True).count():
        sign_out(page)
    assert sign_in(page, account.name, account.password).status == 200


def look(page: Page, phone: Page, account: Account, url: str, name: str) -> None:
    """Shoot the page at `url` at both widths (the phone signed in as `account` too), each
    fitting its width and passing the accessibility check."""
    for shown in (page, phone):
        if shown is phone:
            switch_to(phone, account)
            phone.goto(url)
        assert_fits_its_width(shown)
        check_a11y(shown)
        shoot(shown, name, keep_as=KEPT.get((name, shown is phone)))


def test_a_whole_quarter(
    page: Page,
    phone: Page,
    live_server: LiveServer,
    operator: Account,
    verifier_a: Account,
    verifier_b: Account,
    viewer: Account,
):
    set_targets(live_server, TARGETS)

    # 1. The operator: an inline error, then the unit's values, saved and submitted.
    switch_to(page, operator)
    page.goto(ENTRY)
    check_a11y(page)
    value = page.locator("#nilai-psks_diberdayakan")
    value.fill("abc")
    assert submit(page, "Simpan").status == 422
    error = page.locator("#galat-psks_diberdayakan")
    expect(error).to_have_class(re.compile(r"\bfield-error\b"))
    expect(error).not_to_be_empty()
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_have_attribute("aria-describedby", re.compile(r"\bgalat-psks_diberdayakan\b"))
    check_a11y(page)
    shoot(page, "isian-galat")

    enter(page, VALUES)
    look(page, phone, operator, ENTRY, "isian")
    submit_quarter(page)

    # 2. Verifier A sees the planted finding and returns the quarter with a note.
    switch_to(page, verifier_a)
    page.goto(DESK)
    expect(page.get_by_role("main")).to_contain_text("jauh di bawah target")
    expect(page.get_by_role("main")).to_contain_text("KADIS.1.1")
    look(page, phone, verifier_a, DESK, "verifikasi")
    back = form_of(page, "Kembalikan")
    back.locator('[name="catatan"]').fill(RETURN_NOTE)
    assert submit(page, "Kembalikan").status == 200
    expect(page).to_have_url(re.compile(re.escape(DESK) + r"\?selesai="))
    expect(page.locator(".state-returned").first).to_be_visible()

    # 3. The operator corrects the slip and submits again.
    switch_to(page, operator)
    page.goto(ENTRY)
    enter(page, {"psks_diberdayakan": CORRECTED})
    submit_quarter(page)

    # 4. Verifier B: the finding is gone; the quarter is verified.
    switch_to(page, verifier_b)
    page.goto(DESK)
    expect(page.get_by_role("main")).not_to_contain_text("jauh di bawah target")
    assert submit(page, "Verifikasi").status == 200
    expect(page.locator(".state-verified").first).to_be_visible()
    shoot(page, "verifikasi-terverifikasi")

    # 5. The leadership's dashboard: the verified capaian and its predikat, in colour.
    switch_to(page, viewer)
    page.goto(DASHBOARD)
    kadis_1_1 = indicator_id(live_server, "KADIS.1.1")
    row = page.locator("tr", has=page.locator(f'a[href^="/indikator/{kadis_1_1}?"]')).first
    expect(row).to_contain_text(re.compile(r"\b96(,0+)?\b"))
    predikat = row.locator(".predikat")
    expect(predikat).to_contain_text("Sangat Tinggi")  # the label: colour is never alone
    drawn = predikat.evaluate("e => getComputedStyle(e, '::before').backgroundColor")
    assert drawn == SANGAT_TINGGI
    expect(row.locator(".state-verified")).to_be_visible()
    look(page, phone, viewer, DASHBOARD, "dasbor")

    row.locator(f'a[href^="/indikator/{kadis_1_1}?"]').first.click()
    page.wait_for_load_state()
    expect(page).to_have_url(re.compile(rf"/indikator/{kadis_1_1}\?tahun={YEAR}"))
    look(page, phone, viewer, f"/indikator/{kadis_1_1}?tahun={YEAR}", "indikator")


def test_an_unexplained_quality_error_stops_the_submit_in_words(
    page: Page, live_server: LiveServer
):
    rpjs = live_server.person(Role.operator, ("BID_RPJS",))
    switch_to(page, rpjs)
    page.goto(f"/isian/{YEAR}/{QUARTER}/BID_RPJS")
    enter(page, {"ppks_rehabilitasi": "67", "ppks_terdata": "40"})

    refused = submit(page, "Ajukan")
    assert refused.status == 409
    refusal = page.locator(".error")
    expect(refusal).to_contain_text("melebihi penyebut")
    expect(refusal).to_contain_text("PPKS yang mendapatkan rehabilitasi sosial tidak melebihi")
    check_a11y(page)
    shoot(page, "verifikasi-ditolak")

    ajukan = form_of(page, "Ajukan")
    for key in (
        "numerator_exceeds_denominator:KADIS.1.2",
        "rule_violated:ppks_rehabilitasi_maks_terdata",
    ):
        ajukan.locator(f'[name="penjelasan:{key}"]').fill("Termasuk PPKS pindahan dari luar kota.")
    submit_quarter(page)
