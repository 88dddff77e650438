"""The lint rules: pure functions from an indicator's (or a decree's) plain data to findings.

Messages are in Indonesian, for the admin who keeps the SK's definitions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final

from app.achievement.aggregation import Aggregation
from app.lint.facts import Finding, IndicatorFacts, QualityRuleFacts, Severity, VariableFacts
from app.lint.quality import lint_quality_rules
from app.lint.shape import Kind, Shape, dump, shape_of

IndicatorRule = Callable[[IndicatorFacts, Shape, Mapping[str, VariableFacts]], Iterable[Finding]]
"""A rule over one indicator: its facts, its formula's shape, all variables of the agency."""

_PERCENT_WORD: Final = r"(?:persentase|presentase|prosentase)"
_PERCENT_NAME: Final = re.compile(rf"\b{_PERCENT_WORD}\b", re.IGNORECASE)
_COUNT_NAME: Final = re.compile(r"^\s*jumlah\b", re.IGNORECASE)
# A change promised by the name: the name's first word, or right after "Persentase" and its
# kin. Further in, "Peningkatan" names a service ("Layanan Peningkatan Kualitas Hidup Anak").
_CHANGE_NAME: Final = re.compile(
    rf"^\s*(?:(?:{_PERCENT_WORD}|jumlah|angka|tingkat|rasio)\s+)?"
    r"(peningkatan|penurunan|kenaikan|meningkatnya|menurunnya)\b",
    re.IGNORECASE,
)
# A ratio that must be met in full (documents due, needs, what was targeted): a fully
# compliant office reads 100% whatever the quarter, so its denominator must be due-to-date.
_COMPLIANCE: Final = re.compile(
    r"tepat waktu|sesuai ketentuan|\bharus\b|\bwajib\b|ditargetkan|\bkebutuhan\b|terpenuhi",
    re.IGNORECASE,
)
# How a denominator's description says it counts only what is due up to the quarter.
_DUE_TO_DATE: Final = re.compile(
    r"\bs\.?\s?[d/]\.?\s+(?:triwulan|tw)\b|sampai dengan|sampai (?:akhir )?triwulan"
    r"|hingga (?:akhir )?triwulan|jatuh tempo",
    re.IGNORECASE,
)
# Who an indicator is about, each with the words that name it.
SUBJECTS: Final[Mapping[str, tuple[str, ...]]] = {
    "Anak": ("anak",),
    "Perempuan": ("perempuan", "wanita"),
    "PSKS": ("psks", "potensi sumber kesejahteraan sosial", "potensi dan sumber kesejahteraan"),
    "PPKS": ("ppks", "pemerlu pelayanan kesejahteraan sosial"),
    "PMKS": ("pmks", "penyandang masalah kesejahteraan sosial"),
    "Lansia": ("lansia", "lanjut usia"),
    "Disabilitas": ("disabilitas", "difabel"),
    "KPM": ("kpm", "keluarga penerima manfaat"),
    "Fakir miskin": ("fakir miskin",),
}
# Names of programmes, not of whom an indicator counts.
_NOT_SUBJECTS: Final = re.compile(r"kota layak anak|pengarusutamaan hak anak", re.IGNORECASE)


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", _normal(text)) is not None


def _labels(codes: Iterable[str], variables: Mapping[str, VariableFacts]) -> str:
    return ", ".join(f'"{variables[c].label}"' for c in codes if c in variables)


def _finding(
    indicator: IndicatorFacts, code: str, severity: Severity, message: str, **more: str
) -> Finding:
    return Finding(code, severity, message, indicator=indicator.code, **more)


# Rules over one indicator ----------------------------------------------------------------------


def unknown_variable(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A formula names a variable the agency does not have: it can never be computed."""
    for name in indicator.formula.variables:
        if name not in agency:
            yield _finding(
                indicator,
                "unknown_variable",
                Severity.error,
                f'Formulasi memakai variabel "{name}" yang tidak terdaftar pada perangkat '
                "daerah ini, sehingga capaian tidak dapat dihitung.",
                variable=name,
            )


def count_name_over_percentage(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A name that says "Jumlah" (a count) over a formula that yields a proportion."""
    if _COUNT_NAME.search(indicator.name) and shape.is_proportion:
        yield _finding(
            indicator,
            "count_name_over_percentage",
            Severity.warning,
            'Nama indikator berbunyi "Jumlah ..." (banyaknya), tetapi formulasinya membagi '
            "pembilang dengan penyebut sehingga hasilnya persentase. Samakan nama dengan "
            "formulasi, atau catat alasannya.",
        )


def percentage_name_over_count(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A percentage name ("Persentase", "Presentase", "Prosentase") over a count formula."""
    if _PERCENT_NAME.search(indicator.name) and shape.kind is Kind.count:
        yield _finding(
            indicator,
            "percentage_name_over_count",
            Severity.warning,
            "Nama indikator menyebut persentase, tetapi formulasinya hanya menjumlahkan "
            "(tanpa pembagian dengan penyebut), sehingga hasilnya bukan persentase.",
        )


def unit_of_measure_mismatch(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """Unit of measure `%` over a formula that is no percentage, or the other way round."""
    percent = indicator.unit_of_measure.strip() == "%"
    if percent and shape.kind is Kind.count:
        message = (
            'Satuan indikator "%", tetapi formulasinya menjumlahkan (banyaknya), bukan persentase.'
        )
    elif percent and shape.kind is Kind.ratio:
        message = (
            'Satuan indikator "%", tetapi formulasinya membagi tanpa dikali 100: hasilnya '
            "pecahan (0-1), bukan persen."
        )
    elif not percent and shape.kind is Kind.percentage:
        message = (
            f"Formulasi menghasilkan persentase (x 100), tetapi satuan indikator "
            f'"{indicator.unit_of_measure}", bukan "%".'
        )
    else:
        return
    yield _finding(indicator, "unit_of_measure_mismatch", Severity.warning, message)


def ratio_units_differ(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A proportion whose numerator and denominator are measured in different units."""
    if not shape.is_proportion:
        return
    variables = indicator.variables
    above = {variables[c].unit_of_measure.casefold() for c in shape.numerator if c in variables}
    below = {variables[c].unit_of_measure.casefold() for c in shape.denominator if c in variables}
    if above and below and above != below:
        yield _finding(
            indicator,
            "ratio_units_differ",
            Severity.error,
            f"Pembilang ({_labels(shape.numerator, variables)}, satuan "
            f"{', '.join(sorted(above))}) dan penyebut ({_labels(shape.denominator, variables)}, "
            f"satuan {', '.join(sorted(below))}) diukur dalam satuan berbeda: hasil baginya "
            "bukan persentase dari sesuatu yang sama dan dapat melebihi 100.",
        )


def change_name_over_proportion(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A name that promises a change ("Peningkatan", "Penurunan") over a plain proportion."""
    match = _CHANGE_NAME.search(indicator.name)
    if match and shape.is_proportion and not shape.compares:
        yield _finding(
            indicator,
            "change_name_over_proportion",
            Severity.warning,
            f'Nama indikator menjanjikan perubahan ("{match.group(1)}"), tetapi formulasinya '
            "proporsi biasa tanpa pembanding (tahun atau triwulan sebelumnya, data dasar): "
            "formulasi tidak mengukur kenaikan atau penurunan.",
        )


def flow_over_annual_stock(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A compliance ratio whose numerator adds up quarters (`sum`) over a denominator that is a
    year's stock (`last`): a fully compliant office reads about 25% in the first quarter.

    Not reported when a denominator's description says it counts only what is due up to the
    quarter ("s.d. triwulan", "sampai dengan", "hingga triwulan", "jatuh tempo").
    """
    if not shape.is_proportion:
        return
    variables = indicator.variables
    flows = [variables[c] for c in shape.numerator if c in variables]
    stocks = [variables[c] for c in shape.denominator if c in variables]
    if not flows or any(v.aggregation != Aggregation.sum for v in flows):
        return
    if not stocks or any(v.aggregation != Aggregation.last for v in stocks):
        return
    wording = " ".join([indicator.name, *(v.label for v in (*flows, *stocks))])
    if not _COMPLIANCE.search(wording):
        return
    if any(_DUE_TO_DATE.search(v.description or "") for v in stocks):
        return
    yield _finding(
        indicator,
        "flow_over_annual_stock",
        Severity.error,
        f"Pembilang ({_labels(shape.numerator, variables)}) dijumlahkan dari triwulan ke "
        f"triwulan, tetapi penyebut ({_labels(shape.denominator, variables)}) adalah jumlah "
        "setahun pada akhir triwulan: kantor yang sepenuhnya tertib hanya mencapai sekitar 25% "
        "pada triwulan I. Hitung penyebut yang jatuh tempo s.d. triwulan berkenaan (dan tulis "
        "demikian pada deskripsi variabel), atau tetapkan target per triwulan.",
    )


def _occurrences(text: str, label: str) -> list[tuple[int, int]]:
    needle = _normal(label)
    return [(m.start(), m.end()) for m in re.finditer(re.escape(needle), text)] if needle else []


def explanation_names_other_variable(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """The SK's explanation names (by its label) a variable the formula does not use: the
    SK's formula was often copied from a neighbouring indicator."""
    if not indicator.explanation:
        return
    text = _normal(indicator.explanation)
    used = set(indicator.formula.variables)
    covered = [
        span for code in used if code in agency for span in _occurrences(text, agency[code].label)
    ]
    for code, variable in sorted(agency.items()):
        if code in used:
            continue
        for start, end in _occurrences(text, variable.label):
            if not any(a <= start and end <= b for a, b in covered):
                yield _finding(
                    indicator,
                    "explanation_names_other_variable",
                    Severity.warning,
                    f'Penjelasan/formulasi SK menyebut "{variable.label}" (variabel {code}), '
                    "tetapi formulasi yang dikodekan tidak memakainya: periksa apakah formulasi "
                    "SK tersalin dari indikator lain.",
                    variable=code,
                )
                break


def explanation_fraction_inverted(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """The SK's explanation writes the denominator's label before a "/" and the numerator's
    after it: the SK's fraction is the other way up from the formula."""
    if not indicator.explanation or not shape.is_proportion:
        return
    text = _normal(indicator.explanation)
    variables = indicator.variables
    spans: list[tuple[int, int, str]] = []
    for side, codes in (("numerator", shape.numerator), ("denominator", shape.denominator)):
        for code in codes:
            if code in variables:
                spans += [(a, b, side) for a, b in _occurrences(text, variables[code].label)]
    for slash in (m.start() for m in re.finditer("/", text)):
        if any(a <= slash < b for a, b, _ in spans):
            continue  # a slash inside a label ("bantuan/layanan")
        before = max((s for s in spans if s[1] <= slash), key=lambda s: s[1], default=None)
        after = min((s for s in spans if s[0] > slash), key=lambda s: s[0], default=None)
        if before and after and before[2] == "denominator" and after[2] == "numerator":
            yield _finding(
                indicator,
                "explanation_fraction_inverted",
                Severity.warning,
                f"Pecahan dalam penjelasan SK terbalik dari formulasi: SK menulis "
                f"{_labels(shape.denominator, variables)} di atas garis bagi dan "
                f"{_labels(shape.numerator, variables)} di bawahnya.",
            )
            return


def blank_data_source(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """The SK's Sumber Data is empty."""
    if not (indicator.data_source or "").strip():
        yield _finding(
            indicator,
            "blank_data_source",
            Severity.warning,
            "Sumber Data indikator kosong: tidak tertulis dari dokumen mana data diambil.",
        )


def no_target(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """No target (annual or of a quarter) for the decree's year: no capaian can be computed."""
    if not indicator.has_target:
        yield _finding(
            indicator,
            "no_target",
            Severity.warning,
            "Belum ada target (Perjanjian Kinerja) untuk tahun SK ini, sehingga capaian belum "
            "dapat dihitung.",
        )


def parent_inferred(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A cascade link that the SK does not state."""
    if indicator.parent and indicator.parent_inferred:
        yield _finding(
            indicator,
            "parent_inferred",
            Severity.info,
            f"Kaitan (cascading) ke indikator {indicator.parent} tidak tertulis dalam SK; "
            "kaitan ini hasil penafsiran.",
        )


def _subjects(text: str) -> set[str]:
    text = _NOT_SUBJECTS.sub(" ", text)
    return {name for name, words in SUBJECTS.items() if any(_has_word(text, w) for w in words)}


def subject_missing_from_label(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """The name says whom it counts (Anak, Perempuan, PSKS ...), but the labels of its
    numerator or denominator name none of them: read alone they count something wider."""
    named = _subjects(indicator.name)
    if not named:
        return
    sides = (
        [("pembilang", shape.numerator), ("penyebut", shape.denominator)]
        if shape.is_proportion
        else [("komponen data", indicator.formula.variables)]
    )
    variables = indicator.variables
    for side, codes in sides:
        known = [c for c in codes if c in variables]
        if known and not _subjects(" ".join(variables[c].label for c in known)) & named:
            yield _finding(
                indicator,
                "subject_missing_from_label",
                Severity.warning,
                f"Nama indikator menyebut {', '.join(sorted(named))}, tetapi label {side} "
                f"({_labels(known, variables)}) tidak menyebutnya: dibaca sendiri, label itu "
                "mencakup lebih luas dari yang dimaksud.",
                variable=known[0],
            )


def name_measure_differs(
    indicator: IndicatorFacts, shape: Shape, agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """The name names a unit the agency counts in (lembaga, data, laporan ...) but not the
    unit the formula counts (a count's variables; a proportion's denominator)."""
    measured = shape.denominator if shape.is_proportion else indicator.formula.variables
    if shape.kind is Kind.other:
        return
    units = {
        indicator.variables[c].unit_of_measure.casefold()
        for c in measured
        if c in indicator.variables
    }
    vocabulary = {v.unit_of_measure.casefold() for v in agency.values()} - {"%"}
    named = {unit for unit in vocabulary if _has_word(indicator.name, unit)}
    if units and named and not named & units:
        yield _finding(
            indicator,
            "name_measure_differs",
            Severity.warning,
            f"Nama indikator menyebut {', '.join(sorted(named))}, tetapi yang dihitung "
            f"formulasi bersatuan {', '.join(sorted(units))} "
            f"({_labels(measured, indicator.variables)}).",
        )


INDICATOR_RULES: Final[tuple[IndicatorRule, ...]] = (
    unknown_variable,
    count_name_over_percentage,
    percentage_name_over_count,
    unit_of_measure_mismatch,
    ratio_units_differ,
    change_name_over_proportion,
    flow_over_annual_stock,
    explanation_names_other_variable,
    explanation_fraction_inverted,
    subject_missing_from_label,
    name_measure_differs,
    blank_data_source,
    no_target,
    parent_inferred,
)


# Rules over a decree ---------------------------------------------------------------------------


def duplicate_formula(indicators: Sequence[IndicatorFacts]) -> Iterator[Finding]:
    """Two indicators computing the same formula (blanks and redundant parentheses aside)."""
    groups: dict[str, list[str]] = {}
    for indicator in indicators:
        groups.setdefault(dump(indicator.formula), []).append(indicator.code)
    for indicator in indicators:
        others = [c for c in groups[dump(indicator.formula)] if c != indicator.code]
        if others:
            yield Finding(
                "duplicate_formula",
                Severity.warning,
                f"Formulasi sama dengan indikator {', '.join(others)}: kedua indikator selalu "
                "bernilai sama.",
                indicator=indicator.code,
            )


def unused_variable(
    indicators: Sequence[IndicatorFacts], agency: Mapping[str, VariableFacts]
) -> Iterator[Finding]:
    """A variable of the agency that no formula of the decree uses."""
    used = {name for indicator in indicators for name in indicator.formula.variables}
    for code, variable in sorted(agency.items()):
        if code not in used:
            yield Finding(
                "unused_variable",
                Severity.warning,
                f'Variabel "{variable.label}" tidak dipakai formulasi indikator mana pun dalam '
                "SK ini: data yang dilaporkan untuknya tidak memengaruhi capaian.",
                variable=code,
            )


def lint(
    indicators: Sequence[IndicatorFacts],
    agency: Mapping[str, VariableFacts],
    rules: Sequence[QualityRuleFacts] = (),
) -> list[Finding]:
    """Every finding of a decree: its indicators in the order given, then the decree's own,
    then those of the agency's data-quality rules (`app.lint.quality`)."""
    findings: list[Finding] = []
    for indicator in indicators:
        shape = shape_of(indicator.formula)
        for rule in INDICATOR_RULES:
            findings.extend(rule(indicator, shape, agency))
    findings.extend(duplicate_formula(indicators))
    findings.extend(unused_variable(indicators, agency))
    findings.extend(lint_quality_rules(rules, indicators, agency))
    return findings
