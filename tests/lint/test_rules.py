"""Each lint rule on plain data: a case that fires and a close case that does not."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from app.formula import parse
from app.lint import (
    INDICATOR_RULES,
    Finding,
    IndicatorFacts,
    Kind,
    Severity,
    VariableFacts,
    duplicate_formula,
    lint,
    shape_of,
    unused_variable,
)
from app.lint import rules as r


def var(
    code: str, label: str, unit: str = "orang", aggregation: str = "sum", **more: str
) -> VariableFacts:
    return VariableFacts(code, label, unit, aggregation, **more)


AGENCY = {
    v.code: v
    for v in (
        var("kasus_anak_tertangani", "Jumlah Kasus Anak yang Tertangani", "kasus"),
        var("kasus_anak_diterima", "Jumlah Kasus Anak yang Diterima", "kasus"),
        var("kasus_tertangani", "Jumlah Kasus yang Tertangani", "kasus"),
        var("kasus_diterima", "Jumlah Kasus yang Diterima", "kasus"),
        var("kegiatan_pencegahan", "Jumlah kegiatan pencegahan yang terlaksana", "kegiatan"),
        var("laporan_tepat_waktu", "Laporan yang disusun tepat waktu", "dokumen"),
        var("laporan_wajib", "Jumlah laporan yang harus dipenuhi", "dokumen", "last"),
        var(
            "laporan_wajib_sd",
            "Jumlah laporan yang harus dipenuhi",
            "dokumen",
            "last",
            description="Laporan yang jatuh tempo s.d. triwulan berkenaan.",
        ),
        var("psks_diberdayakan", "Jumlah PSKS yang diberdayakan", "PSKS"),
        var("psks_terdata", "Total PSKS yang terdata", "PSKS", "last"),
        var("sdm_tersertifikasi", "Jumlah SDM lembaga yang tersertifikasi", "orang", "last"),
        var("lembaga_dikuatkan", "Jumlah lembaga yang dikuatkan", "lembaga"),
    )
}


def indicator(name: str, formula: str, unit: str = "%", **more: object) -> IndicatorFacts:
    checked = parse(formula)
    return IndicatorFacts(
        code=str(more.pop("code", "X.1.1")),
        name=name,
        formula=checked,
        unit_of_measure=unit,
        variables={c: AGENCY[c] for c in checked.variables if c in AGENCY},
        **more,  # type: ignore[arg-type]
    )


def run(
    rule: r.IndicatorRule, facts: IndicatorFacts, agency: Mapping[str, VariableFacts] = AGENCY
) -> list[Finding]:
    return list(rule(facts, shape_of(facts.formula), agency))


PERCENT = "kasus_anak_tertangani / kasus_anak_diterima * 100"


@pytest.mark.parametrize(
    ("formula", "kind", "numerator", "denominator"),
    [
        ("a / b * 100", Kind.percentage, ("a",), ("b",)),
        ("(a / b) * 100", Kind.percentage, ("a",), ("b",)),
        ("100 * (a / b)", Kind.percentage, ("a",), ("b",)),
        ("a * 100 / b", Kind.percentage, ("a",), ("b",)),
        ("(a + c) / b * 100", Kind.percentage, ("a", "c"), ("b",)),
        ("a / b", Kind.ratio, ("a",), ("b",)),
        ("a", Kind.count, ("a",), ()),
        ("a + b", Kind.count, ("a", "b"), ()),
        ("a - b", Kind.other, ("a", "b"), ()),
        ("min(a, b)", Kind.other, ("a", "b"), ()),
    ],
)
def test_shape_tells_percentage_ratio_and_count(
    formula: str, kind: Kind, numerator: tuple[str, ...], denominator: tuple[str, ...]
) -> None:
    shape = shape_of(parse(formula))
    assert (shape.kind, shape.numerator, shape.denominator) == (kind, numerator, denominator)


def test_shape_sees_a_change_over_a_baseline() -> None:
    assert shape_of(parse("(a - a_lalu) / a_lalu * 100")).compares
    assert not shape_of(parse("a / b * 100")).compares


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_count_name_over_percentage() -> None:
    fired = run(r.count_name_over_percentage, indicator("Jumlah kasus anak tertangani", PERCENT))
    assert codes(fired) == ["count_name_over_percentage"]
    assert fired[0].severity is Severity.warning and fired[0].indicator == "X.1.1"
    # A count formula, or "jumlah" further in a percentage name, is fine.
    assert (
        run(r.count_name_over_percentage, indicator("Jumlah kasus", "kasus_diterima", "kasus"))
        == []
    )
    assert run(r.count_name_over_percentage, indicator("Persentase jumlah kasus", PERCENT)) == []


@pytest.mark.parametrize("word", ["Persentase", "Presentase", "Prosentase"])
def test_percentage_name_over_count(word: str) -> None:
    fired = run(r.percentage_name_over_count, indicator(f"{word} kasus", "kasus_diterima", "kasus"))
    assert codes(fired) == ["percentage_name_over_count"]
    assert run(r.percentage_name_over_count, indicator(f"{word} kasus", PERCENT)) == []


def test_unit_of_measure_mismatch() -> None:
    assert codes(run(r.unit_of_measure_mismatch, indicator("Kasus", "kasus_diterima", "%"))) == [
        "unit_of_measure_mismatch"
    ]
    assert codes(
        run(
            r.unit_of_measure_mismatch,
            indicator("Kasus", "kasus_anak_tertangani / kasus_anak_diterima"),
        )
    ) == ["unit_of_measure_mismatch"]
    assert codes(run(r.unit_of_measure_mismatch, indicator("Kasus", PERCENT, "kasus"))) == [
        "unit_of_measure_mismatch"
    ]
    assert run(r.unit_of_measure_mismatch, indicator("Kasus", PERCENT, "%")) == []
    assert run(r.unit_of_measure_mismatch, indicator("Kasus", "kasus_diterima", "kasus")) == []


def test_ratio_units_differ() -> None:
    fired = run(
        r.ratio_units_differ,
        indicator("Persentase", "kasus_tertangani / kegiatan_pencegahan * 100"),
    )
    assert codes(fired) == ["ratio_units_differ"]
    assert fired[0].severity is Severity.error
    assert "kasus" in fired[0].message and "kegiatan" in fired[0].message
    assert (
        run(
            r.ratio_units_differ, indicator("Persentase", "kasus_tertangani / kasus_diterima * 100")
        )
        == []
    )


def test_change_name_over_proportion() -> None:
    name = "Persentase Peningkatan kasus anak yang tertangani"
    assert codes(run(r.change_name_over_proportion, indicator(name, PERCENT))) == [
        "change_name_over_proportion"
    ]
    assert codes(
        run(r.change_name_over_proportion, indicator("Prosentase penurunan kasus", PERCENT))
    ) == ["change_name_over_proportion"]
    # A comparison with a baseline measures a change.
    change = "(kasus_anak_tertangani - kasus_anak_diterima) / kasus_anak_diterima * 100"
    assert run(r.change_name_over_proportion, indicator(name, change)) == []
    # "Peningkatan" further in names a service, not a change.
    service = "Persentase Lembaga Layanan Peningkatan Kualitas Hidup Anak"
    assert run(r.change_name_over_proportion, indicator(service, PERCENT)) == []


def test_flow_over_annual_stock() -> None:
    name = "Persentase laporan yang disusun tepat waktu"
    fired = run(
        r.flow_over_annual_stock, indicator(name, "laporan_tepat_waktu / laporan_wajib * 100")
    )
    assert codes(fired) == ["flow_over_annual_stock"]
    assert fired[0].severity is Severity.error and "25%" in fired[0].message
    # A denominator that says it is due up to the quarter.
    assert (
        run(
            r.flow_over_annual_stock,
            indicator(name, "laporan_tepat_waktu / laporan_wajib_sd * 100"),
        )
        == []
    )
    # Coverage of a population (no compliance wording) rises over the year by design.
    coverage = indicator(
        "Persentase PSKS yang diberdayakan", "psks_diberdayakan / psks_terdata * 100"
    )
    assert run(r.flow_over_annual_stock, coverage) == []


def test_explanation_names_other_variable() -> None:
    copied = indicator(
        "Persentase kasus",
        "kasus_tertangani / kasus_diterima * 100",
        explanation="(Jumlah Kasus yang Tertangani / "
        "Jumlah kegiatan pencegahan yang terlaksana) x 100%",
    )
    fired = run(r.explanation_names_other_variable, copied)
    assert codes(fired) == ["explanation_names_other_variable"]
    assert fired[0].variable == "kegiatan_pencegahan"
    # Only the labels of the variables used, in other case and blanks.
    fine = indicator(
        "Persentase kasus",
        "kasus_tertangani / kasus_diterima * 100",
        explanation="(Jumlah  kasus yang tertangani / Jumlah Kasus yang Diterima) x 100%",
    )
    assert run(r.explanation_names_other_variable, fine) == []


def test_explanation_fraction_inverted() -> None:
    inverted = indicator(
        "Persentase PSKS",
        "psks_diberdayakan / psks_terdata * 100",
        explanation="(Total PSKS yang terdata / Jumlah PSKS yang diberdayakan) x 100%",
    )
    assert codes(run(r.explanation_fraction_inverted, inverted)) == [
        "explanation_fraction_inverted"
    ]
    upright = indicator(
        "Persentase PSKS",
        "psks_diberdayakan / psks_terdata * 100",
        explanation="(Jumlah PSKS yang diberdayakan / Total PSKS yang terdata) x 100%",
    )
    assert run(r.explanation_fraction_inverted, upright) == []


def test_subject_missing_from_label() -> None:
    name = "Persentase penanganan permasalahan anak"
    fired = run(
        r.subject_missing_from_label, indicator(name, "kasus_tertangani / kasus_diterima * 100")
    )
    assert codes(fired) == ["subject_missing_from_label"] * 2
    assert [f.variable for f in fired] == ["kasus_tertangani", "kasus_diterima"]
    assert run(r.subject_missing_from_label, indicator(name, PERCENT)) == []
    # "Kota Layak Anak" names a programme, not whom it counts.
    kla = indicator(
        "Persentase indikator Kota Layak Anak", "kasus_tertangani / kasus_diterima * 100"
    )
    assert run(r.subject_missing_from_label, kla) == []


def test_name_measure_differs() -> None:
    name = "Jumlah Penguatan Lembaga Penyedia Layanan"
    fired = run(r.name_measure_differs, indicator(name, "sdm_tersertifikasi", "orang"))
    assert codes(fired) == ["name_measure_differs"]
    assert "lembaga" in fired[0].message and "orang" in fired[0].message
    assert run(r.name_measure_differs, indicator(name, "lembaga_dikuatkan", "lembaga")) == []


def test_blank_data_source() -> None:
    for blank in (None, "", "  "):
        assert codes(run(r.blank_data_source, indicator("P", PERCENT, data_source=blank))) == [
            "blank_data_source"
        ]
    assert run(r.blank_data_source, indicator("P", PERCENT, data_source="Laporan kasus")) == []


def test_no_target() -> None:
    assert codes(run(r.no_target, indicator("P", PERCENT, has_target=False))) == ["no_target"]
    assert run(r.no_target, indicator("P", PERCENT, has_target=True)) == []


def test_parent_inferred() -> None:
    fired = run(
        r.parent_inferred, indicator("P", PERCENT, parent="KADIS.4.3", parent_inferred=True)
    )
    assert codes(fired) == ["parent_inferred"] and fired[0].severity is Severity.info
    assert "KADIS.4.3" in fired[0].message
    assert run(r.parent_inferred, indicator("P", PERCENT, parent="KADIS.4.3")) == []


def test_unknown_variable() -> None:
    fired = run(r.unknown_variable, indicator("P", "kasus_hilang / kasus_diterima * 100"))
    assert [(f.code, f.variable) for f in fired] == [("unknown_variable", "kasus_hilang")]
    assert run(r.unknown_variable, indicator("P", PERCENT)) == []


def test_duplicate_formula_ignores_blanks_and_parentheses() -> None:
    first = indicator("P", "kasus_tertangani / kasus_diterima * 100", code="A.1.1")
    second = indicator("Q", "((kasus_tertangani)/kasus_diterima)*100", code="A.1.2")
    third = indicator("R", "kasus_diterima / kasus_tertangani * 100", code="A.1.3")
    fired = list(duplicate_formula([first, second, third]))
    assert [(f.code, f.indicator) for f in fired] == [
        ("duplicate_formula", "A.1.1"),
        ("duplicate_formula", "A.1.2"),
    ]
    assert "A.1.2" in fired[0].message


def test_unused_variable() -> None:
    agency = {c: AGENCY[c] for c in ("kasus_tertangani", "kasus_diterima", "kegiatan_pencegahan")}
    used = indicator("P", "kasus_tertangani / kasus_diterima * 100")
    fired = list(unused_variable([used], agency))
    assert [(f.code, f.variable, f.indicator) for f in fired] == [
        ("unused_variable", "kegiatan_pencegahan", None)
    ]
    assert list(unused_variable([used], {c: agency[c] for c in used.formula.variables})) == []


def test_lint_runs_every_rule_in_order() -> None:
    facts = indicator(
        "Jumlah kasus", "kasus_tertangani / kegiatan_pencegahan * 100", has_target=False
    )
    found = codes(lint([facts], AGENCY))
    assert found[:5] == [
        "count_name_over_percentage",
        "ratio_units_differ",
        "name_measure_differs",  # "kasus" named, "kegiatan" counted
        "blank_data_source",
        "no_target",
    ]
    assert set(found[5:]) == {"unused_variable"}
    assert len(INDICATOR_RULES) == len({rule.__name__ for rule in INDICATOR_RULES})
