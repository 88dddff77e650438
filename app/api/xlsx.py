"""Presentation: Excel workbooks (openpyxl). Labels are Indonesian, as the SK writes them;
every number is taken as the services answer it."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

from fastapi import Response
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session

from app.api.renderers import safe_text
from app.core.db import release_connection
from app.core.text import without_controls
from app.core.types import MAX_MAGNITUDE
from app.models import Aggregation, PeriodState, ValueType
from app.services import workbooks
from app.services.achievements import AchievementFilters
from app.services.imports import COLUMNS, TEMPLATE_CONTEXT, TEMPLATE_SHEET, XLSX_TYPE
from app.services.workbooks import (
    AchievementReport,
    IndicatorRow,
    RealizationTemplate,
    TemplateRow,
    UnitSummary,
)

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
STATUS_LABELS = {
    "ok": "Terhitung",
    "no_data": "Belum ada data",
    "partial_data": "Data belum lengkap",
    "undefined": "Tidak terdefinisi",
    "no_target": "Belum ada target",
}
REASON_LABELS = {
    "division_by_zero": "pembagian dengan nol",
    "zero_target": "target bernilai 0",
    "not_verified": "data belum diverifikasi",
}
VERIFICATION_LABELS = {
    "open": "Belum diajukan",
    "submitted": "Diajukan",
    "returned": "Dikembalikan",
    "verified": "Terverifikasi",
    "mixed": "Campuran",
}
AGGREGATION_LABELS = {
    Aggregation.sum: "dijumlahkan per triwulan",
    Aggregation.last: "posisi akhir triwulan",
    Aggregation.max: "nilai tertinggi antartriwulan",
    Aggregation.min: "nilai terendah antartriwulan",
    Aggregation.avg: "rata-rata triwulan",
}
BOLD = Font(bold=True)
HEADING = Font(bold=True, size=12)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFD9D9D9", end_color="FFD9D9D9")
CONTEXT_FILL = PatternFill(fill_type="solid", start_color="FFF2F2F2", end_color="FFF2F2F2")
WRAP = Alignment(wrap_text=True, vertical="top")
MAX_WIDTH = 60
SHEET_TITLE = 31  # Excel's limit on a sheet's name
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def attachment(content: bytes, filename: str) -> Response:
    """A workbook answered as a download (its name of letters, digits, `.`, `-` and `_`: a
    stored code may hold anything)."""
    name = _UNSAFE_IN_FILENAME.sub("_", filename)
    return Response(
        content,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def achievements_attachment(
    session: Session, filters: AchievementFilters, quarter: int
) -> Response:
    """The achievements workbook of the filters up to `quarter`, as a download: what
    `GET /reports/achievements.xlsx` answers, and the pages' Dasbor links to. The workbook
    is made without holding a connection."""
    report = workbooks.achievement_report(session, filters, quarter)
    release_connection(session)
    suffix = "-terverifikasi" if filters.verified_only else ""
    name = f"capaian-iki-{filters.year}-tw{quarter}{suffix}.xlsx"
    return attachment(achievements_workbook(report), name)


def number_format(decimals: int) -> str:
    """An Excel number format with `decimals` places (`0`, `0.00` ...)."""
    return "0." + "0" * decimals if decimals > 0 else "0"


def put(sheet: Worksheet, row: int, column: int, value: object, fmt: str | None = None) -> Cell:
    """Write a cell: a number stays a number; text is always a string cell, without the
    control characters a cell cannot hold (rows stored before they were refused may have
    them), made safe so no spreadsheet reads it as a formula."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = safe_text(without_controls(value))
        cell.data_type = "s"
    else:
        cell.value = value
    if fmt is not None:
        cell.number_format = fmt
    return cell


def _fit_columns(sheet: Worksheet, first_row: int = 1) -> None:
    """Column widths that fit the content from `first_row` on (capped; long text wraps)."""
    widths: dict[int, int] = {}
    for cells in sheet.iter_rows(min_row=first_row):
        for cell in cells:
            if cell.value is not None:
                length = max(len(line) for line in str(cell.value).split("\n"))
                widths[cell.column] = max(widths.get(cell.column, 0), length)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(width + 2, MAX_WIDTH)


def _header(sheet: Worksheet, row: int, names: Sequence[str]) -> None:
    for column, name in enumerate(names, start=1):
        cell = put(sheet, row, column, name)
        cell.font, cell.fill, cell.alignment = BOLD, HEADER_FILL, WRAP


def _to_bytes(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _unique_title(title: str, taken: dict[str, int]) -> str:
    """A sheet title Excel takes (no `[]:*?/\\` nor control characters, at most 31
    characters), unique in the book: `taken` maps each title given (lowercase) to the next
    number to try after it, so that n titles alike cost n tries, not n squared."""
    text = "".join(" " if c in "\t\n\r" else c for c in without_controls(title))
    clean = "".join("_" if c in "[]:*?/\\" else c for c in text)[:SHEET_TITLE] or "IKI"
    candidate, n = clean, taken.get(clean.lower(), 2)
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = clean[: SHEET_TITLE - len(suffix)] + suffix, n + 1
    taken[clean.lower()] = n
    taken.setdefault(candidate.lower(), 2)
    return candidate


# Achievements --------------------------------------------------------------------------------


def _period(report: AchievementReport) -> str:
    text = f"Tahun {report.year} s.d. Triwulan {ROMAN[report.quarter]}"
    return text + " (hanya data terverifikasi)" if report.verified_only else text


def achievements_workbook(report: AchievementReport) -> bytes:
    """A summary sheet per unit, then one sheet per position (titled by its code) with a row
    per indicator in SK order."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Ringkasan"
    _summary_sheet(summary, report)
    taken = {"ringkasan": 2}
    groups: dict[tuple[str, str], list[IndicatorRow]] = {}
    agencies = {row.latest.agency for row in report.rows}
    for row in report.rows:
        groups.setdefault((row.latest.agency, row.latest.position.code), []).append(row)
    for (agency, position), rows in groups.items():
        title = f"{agency} {position}" if len(agencies) > 1 else position
        _position_sheet(book.create_sheet(_unique_title(title, taken)), report, rows)
    return _to_bytes(book)


SUMMARY_COLUMNS = (
    "Kode Unit",
    "Unit (Sumber Data)",
    "Jumlah IKI",
    *STATUS_LABELS.values(),
    "Rata-rata Capaian (%) IKI Terhitung",
)


def _summary_sheet(sheet: Worksheet, report: AchievementReport) -> None:
    put(sheet, 1, 1, "Ringkasan Capaian Indikator Kinerja Individu").font = HEADING
    put(sheet, 2, 1, _period(report))
    _header(sheet, 4, SUMMARY_COLUMNS)
    row = 5
    for unit in report.units:
        _summary_row(sheet, row, unit)
        row += 1
    _summary_row(sheet, row, report.total)
    for cell in sheet[row]:
        cell.font = BOLD
    sheet.freeze_panes = "A5"
    _fit_columns(sheet, first_row=4)


def _summary_row(sheet: Worksheet, row: int, unit: UnitSummary) -> None:
    cells = [unit.code, unit.name, unit.indicators]
    cells += [unit.statuses.get(status, 0) for status in STATUS_LABELS]
    for column, value in enumerate(cells, start=1):
        put(sheet, row, column, value)
    put(sheet, row, len(cells) + 1, unit.average, "0.00")


def _position_sheet(
    sheet: Worksheet, report: AchievementReport, rows: Sequence[IndicatorRow]
) -> None:
    position = rows[0].latest.position
    put(sheet, 1, 1, position.title).font = HEADING
    put(sheet, 2, 1, f"Capaian IKI {position.code} {_period(report)}")
    quarters = [f"Realisasi TW {ROMAN[q]}" for q in range(1, report.quarter + 1)]
    names = [
        "Kode",
        "Indikator Kinerja Individu",
        "Satuan",
        "Target",
        *quarters,
        f"Realisasi s.d. TW {ROMAN[report.quarter]}",
        "Capaian (%)",
        "Predikat",
        "Status",
        "Verifikasi",
        "Keterangan",
    ]
    header_row = 4
    _header(sheet, header_row, names)
    for n, indicator_row in enumerate(rows, start=header_row + 1):
        latest = indicator_row.latest
        fmt = number_format(latest.indicator.decimals)
        values: list[tuple[object, str | None]] = [
            (latest.indicator.code, None),
            (latest.indicator.name, None),
            (latest.indicator.unit_of_measure, None),
            (latest.target, fmt),
            *((a.quarter_realization, fmt) for a in indicator_row.quarters),
            (latest.realization, fmt),
            (latest.achievement, "0.00"),
        ]
        for column, (value, cell_format) in enumerate(values, start=1):
            put(sheet, n, column, value, cell_format)
        column = len(values) + 1
        rating = put(sheet, n, column, latest.rating.label if latest.rating else None)
        if latest.rating is not None and latest.rating.color:
            color = "FF" + latest.rating.color.lstrip("#").upper()
            rating.fill = PatternFill(fill_type="solid", start_color=color, end_color=color)
        put(sheet, n, column + 1, STATUS_LABELS.get(latest.status, latest.status))
        put(sheet, n, column + 2, VERIFICATION_LABELS.get(latest.verification, latest.verification))
        put(sheet, n, column + 3, _remark(latest.reason, latest.missing_variables) or None)
        sheet.cell(row=n, column=2).alignment = WRAP
    last = header_row + len(rows)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=3).coordinate
    sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(len(names))}{last}"
    _fit_columns(sheet, first_row=header_row)


def _remark(reason: str | None, missing: Sequence[str]) -> str:
    parts = []
    if reason in REASON_LABELS:
        parts.append(REASON_LABELS[reason])
    if missing:
        parts.append("belum ada data: " + ", ".join(missing))
    return "; ".join(parts)


# The realization template ------------------------------------------------------------------


def template_download(template: RealizationTemplate) -> Response:
    """A unit's realization template as a download, named by its unit and quarter (the
    API's route and the entry page answer the same)."""
    name = f"realisasi-{template.unit}-{template.year}-tw{template.quarter}.xlsx"
    return attachment(template_workbook(template), name)


def template_workbook(template: RealizationTemplate) -> bytes:
    """The sheet a unit fills in (its first row names the columns the import reads, then
    read-only context), and the instructions."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = TEMPLATE_SHEET
    names = [*COLUMNS, *TEMPLATE_CONTEXT]
    _header(sheet, 1, names)
    for column in range(len(COLUMNS) + 1, len(names) + 1):
        sheet.cell(row=1, column=column).fill = CONTEXT_FILL
    value_column = COLUMNS.index("value") + 1
    editable = {value_column, COLUMNS.index("note") + 1, COLUMNS.index("evidence") + 1}
    validations: dict[tuple[ValueType, float | None, float | None], DataValidation] = {}
    for n, row in enumerate(template.rows, start=2):
        cells = [
            row.code,
            template.year,
            template.quarter,
            None,
            None,
            None,
            row.label,
            row.unit_of_measure,
            AGGREGATION_LABELS[row.aggregation],
            _range_text(row),
            ", ".join(row.indicators),
            row.previous,
            row.current,
            row.note,
        ]
        for column, value in enumerate(cells, start=1):
            cell = put(sheet, n, column, value)
            if column in editable:
                cell.protection = Protection(locked=False)
            elif column > len(COLUMNS):
                cell.fill = CONTEXT_FILL
        key = (row.value_type, row.min_value, row.max_value)
        if key not in validations:
            validations[key] = _validation(row)
            sheet.add_data_validation(validations[key])
        validations[key].add(sheet.cell(row=n, column=value_column))
    sheet.freeze_panes = "B2"
    # Locked: what names the row and the context; the value, note and evidence are open.
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False
    _fit_columns(sheet)
    _instructions(book.create_sheet("Petunjuk"), template)
    return _to_bytes(book)


def _range_text(row: TemplateRow) -> str:
    kind = "bilangan bulat" if row.value_type == ValueType.integer else "bilangan desimal"
    if row.min_value is not None and row.max_value is not None:
        return f"{kind} {row.min_value:g} s.d. {row.max_value:g}"
    if row.min_value is not None:
        return f"{kind} >= {row.min_value:g}"
    if row.max_value is not None:
        return f"{kind} <= {row.max_value:g}"
    return kind


def _validation(row: TemplateRow) -> DataValidation:
    """The value cell's rule: whole or decimal numbers within the variable's range."""
    whole = row.value_type == ValueType.integer
    low = row.min_value if row.min_value is not None else -MAX_MAGNITUDE
    high = row.max_value if row.max_value is not None else MAX_MAGNITUDE
    wanted = _range_text(row)
    return DataValidation(
        type="whole" if whole else "decimal",
        operator="between",
        formula1=f"{low:g}",
        formula2=f"{high:g}",
        allow_blank=True,
        showInputMessage=True,
        showErrorMessage=True,
        promptTitle="Realisasi",
        prompt=f"Isi {wanted}. Kosongkan bila belum dilaporkan; 0 berarti nol.",
        errorTitle="Nilai tidak valid",
        error=f"Nilai harus {wanted}.",
        errorStyle="stop",
    )


def _instructions(sheet: Worksheet, template: RealizationTemplate) -> None:
    period = f"Triwulan {ROMAN[template.quarter]} Tahun {template.year}"
    lines = [
        f"Format Isian Realisasi {template.unit_name} ({template.unit}), {period}",
        "",
        "1. Isi kolom value pada lembar Realisasi dengan realisasi variabel untuk triwulan "
        "ini. Kolom note (keterangan) dan evidence (tautan bukti dukung, http/https) boleh "
        "diisi.",
        "2. Kosongkan kolom value bila variabel belum dilaporkan: baris itu dilewati dan nilai "
        "yang tersimpan tidak berubah. Angka 0 disimpan sebagai nol.",
        "3. Tulis angka tanpa pemisah ribuan; bilangan bulat untuk variabel yang dihitung "
        "(orang, dokumen, lembaga ...).",
        "4. Kolom berlatar abu-abu hanya keterangan dan tidak ikut diimpor. Jangan mengubah "
        "kolom variable, year dan quarter, dan jangan menambah kolom.",
        "5. Unggah berkas ini ke POST /api/v1/data-values/import (sebagai berkas `file`), "
        "sebaiknya dahulu dengan dry_run=true untuk memeriksa isinya.",
        "6. Triwulan yang sudah diajukan atau diverifikasi terkunci: datanya ditolak "
        "(period_locked) sampai dikembalikan atau dibuka kembali.",
        "",
        f"Status triwulan saat format ini diunduh: {_state_label(template.state)}",
        "",
        *_previous_findings(template),
    ]
    for n, line in enumerate(lines, start=1):
        put(sheet, n, 1, line or None)
    sheet["A1"].font = HEADING
    sheet.column_dimensions["A"].width = 110


MAX_FINDINGS_LISTED = 100
"""At most this many findings of the previous quarter are listed on the instructions sheet."""
_SEVERITY_LABELS = {"error": "GALAT", "warning": "PERINGATAN", "info": "INFO"}


def _previous_findings(template: RealizationTemplate) -> list[str]:
    """The lines on last quarter's data-quality findings, for the operator to keep in mind."""
    if template.previous is None:
        return []
    year, quarter = template.previous
    period = f"Triwulan {ROMAN[quarter]} Tahun {year}"
    found = template.previous_findings
    if not found:
        return [f"Pemeriksaan kualitas data {period} (triwulan lalu): tidak ada temuan."]
    source = (
        "sebagaimana dilihat verifikator saat diverifikasi"
        if template.previous_verified
        else "dihitung dari data saat ini"
    )
    lines = [f"Temuan pemeriksaan kualitas data {period} (triwulan lalu, {source}):"]
    for finding in found[:MAX_FINDINGS_LISTED]:
        label = _SEVERITY_LABELS.get(finding.severity, finding.severity.upper())
        explained = f" Penjelasan: {finding.explanation}" if finding.explanation else ""
        lines.append(f"• [{label}] {finding.message}{explained}")
    if len(found) > MAX_FINDINGS_LISTED:
        lines.append(f"... dan {len(found) - MAX_FINDINGS_LISTED} temuan lain (GET .../checks).")
    return lines


def _state_label(state: PeriodState) -> str:
    return VERIFICATION_LABELS.get(state.value, state.value)
