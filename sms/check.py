"""`python -m gateway sms templates check`: what every template costs, per language, at worst."""

from __future__ import annotations

from dataclasses import dataclass

from sms.templates import TemplateBook, TemplateError
from text.encoding import cost
from text.grammar import glued_articles


@dataclass(frozen=True, slots=True)
class TemplateCost:
    """One template in one language, measured with worst-case parameters."""

    key: str
    lang: str
    encoding: str
    units: int
    segments: int
    max_segments: int
    forcing_ucs2: tuple[str, ...]  # characters of the template text itself that force UCS-2
    ambiguous: tuple[str, ...]
    transliterated_segments: int | None  # None: the policy cannot make it GSM-7
    klass: str = ""  # essential or notice

    @property
    def over_budget(self) -> bool:
        """Return True when the worst case costs more segments than declared."""
        return self.segments > self.max_segments

    @property
    def saving(self) -> int:
        """Return the segments transliteration saves at worst case (0 when it cannot apply)."""
        if self.transliterated_segments is None:
            return 0
        return self.segments - self.transliterated_segments


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every measurement and every error that makes the check fail."""

    costs: tuple[TemplateCost, ...]
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Return True when no template breaks a rule."""
        return not self.errors


def check(book: TemplateBook) -> CheckReport:
    """Measure every template of `book` and list what breaks the rules."""
    costs: list[TemplateCost] = []
    errors = list(book.problems)
    for key in sorted(book.templates):
        template = book.templates[key]
        for lang in book.languages:
            if lang not in template.texts:
                continue
            try:
                worst = book.worst_case(key, lang)
            except TemplateError as exc:
                errors.append(str(exc))
                continue
            measured = cost(worst)
            own = cost(template.texts[lang])
            transliterated = book.transliteration.attempt(worst)
            row = TemplateCost(
                key=key,
                lang=lang,
                encoding=measured.encoding,
                units=measured.units,
                segments=measured.sms_segments,
                max_segments=template.max_segments,
                forcing_ucs2=own.non_gsm,
                ambiguous=own.ambiguous,
                transliterated_segments=(
                    None if transliterated is None else cost(transliterated).sms_segments
                ),
                klass=template.klass,
            )
            costs.append(row)
            if row.over_budget:
                errors.append(
                    f"{key}.{lang}: {row.segments} segments at worst, "
                    f"more than max_segments {row.max_segments}"
                )
            nouns = [name for name, param in book.params.items() if param.noun]
            for glued in glued_articles(lang, template.texts[lang], nouns):
                errors.append(f"{key}.{lang}: article glued to a name: {glued!r}")
            if row.ambiguous:
                # 0x09 is Ç in GSM 03.38 but many handsets show ç: never put it in a template.
                errors.append(f"{key}.{lang}: ambiguous GSM-7 0x09 character Ç")
    return CheckReport(tuple(costs), tuple(errors))


def format_report(report: CheckReport, *, apply_policy: bool) -> str:
    """Render the report as a table, then the errors."""
    header = (
        f"{'template':34} {'class':9} {'lang':4} {'enc':5} {'units':>5} {'seg':>3} {'max':>3}  "
        f"{'UCS-2 because of':18} transliterated{' (applied)' if apply_policy else ' (off)'}"
    )
    lines = [header, "-" * len(header)]
    for row in report.costs:
        forcing = " ".join(row.forcing_ucs2) or ("(params)" if row.encoding == "UCS-2" else "-")
        if row.encoding == "GSM-7":
            translit = "-"
        elif row.transliterated_segments is None:
            translit = "stays UCS-2"
        else:
            translit = f"GSM-7 {row.transliterated_segments} seg, saves {row.saving}"
        flag = "  OVER" if row.over_budget else ""
        flag += "  AMBIGUOUS Ç" if row.ambiguous else ""
        lines.append(
            f"{row.key:34} {row.klass:9} {row.lang:4} {row.encoding:5} {row.units:>5} "
            f"{row.segments:>3} {row.max_segments:>3}  {forcing:18} {translit}{flag}"
        )
    lines.append("")
    lines.extend(f"error: {error}" for error in report.errors)
    lines.append(f"{len(report.costs)} template texts checked, {len(report.errors)} errors")
    return "\n".join(lines)
