"""Reading the PDF letters back as a person or a franking machine would: text, positions, page size."""

import io
import re
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader

POINTS_PER_MM = 72 / 25.4


def pdf_text(pdf: bytes) -> str:
    """Every page's text on one line: line breaks (and those after a hyphen) joined, spaces kept as
    they are, so that the narrow no-break spaces of French amounts can be compared exactly."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[ \n]+", " ", text.replace("-\n", "-"))


def page_sizes_mm(pdf: bytes) -> list[tuple[float, float]]:
    return [
        (float(p.mediabox.width) / POINTS_PER_MM, float(p.mediabox.height) / POINTS_PER_MM)
        for p in PdfReader(io.BytesIO(pdf)).pages
    ]


@dataclass(frozen=True)
class TextRun:
    text: str
    left_mm: float  # from the page's left edge
    top_mm: float  # baseline, from the page's top edge


def text_runs(pdf: bytes, page: int = 0) -> list[TextRun]:
    """Each piece of text drawn on `page`, with where its baseline starts."""
    reader = PdfReader(io.BytesIO(pdf))
    height = float(reader.pages[page].mediabox.height)
    runs: list[TextRun] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: Any) -> None:
        if not text.strip():
            return
        # The text matrix's origin in user space (text matrix x current transformation matrix).
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        runs.append(TextRun(text.strip(), x / POINTS_PER_MM, (height - y) / POINTS_PER_MM))

    reader.pages[page].extract_text(visitor_text=visit)
    return runs
