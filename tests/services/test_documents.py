"""The documents' pure helpers: Indonesian dates and numbers, links, the letterhead."""

import datetime as dt

import pytest

from app.schemas.data_values import web_link
from app.schemas.organization import AgencyPublic
from app.services.documents import indonesian_date, indonesian_number, letterhead


@pytest.mark.parametrize(
    ("day", "text"),
    [(dt.date(2025, 1, 3), "3 Januari 2025"), (dt.date(2024, 12, 31), "31 Desember 2024")],
)
def test_dates_in_indonesian(day, text):
    assert indonesian_date(day) == text


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (35.416666, 2, "35,42"),
        (1234567.5, 1, "1.234.567,5"),
        (40, 0, "40"),
        (-0.001, 2, "0,00"),
        (-12.5, 2, "-12,50"),
        (None, 2, "-"),
    ],
)
def test_numbers_in_indonesian(value, decimals, text):
    assert indonesian_number(value, decimals) == text


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("https://drive.example.org/x", "https://drive.example.org/x"),
        (" http://a.id/b ", "http://a.id/b"),
        ("javascript:alert(1)", None),
        ("JAVASCRIPT://x.org/%0aalert(1)", None),
        ("data:text/html,<b>", None),
        ("Berita acara no. 5", None),
        ("https:///nohost", None),
        ("http://[bad", None),
        (None, None),
    ],
)
def test_only_web_urls_are_links(text, link):
    assert web_link(text) == link


def test_letterhead_splits_the_region_off_the_name():
    agency = AgencyPublic(
        id=1,
        code="DINSOSP3A",
        name="Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak Kota Probolinggo",
    )
    head = letterhead(agency)
    assert head.government == "PEMERINTAH KOTA PROBOLINGGO"
    assert head.agency == "DINAS SOSIAL, PEMBERDAYAAN PEREMPUAN DAN PERLINDUNGAN ANAK"
    plain = letterhead(AgencyPublic(id=2, code="X", name="Badan Pusat"))
    assert (plain.government, plain.agency) == ("", "BADAN PUSAT")
