"""The aging chart (`dunning report --format png`) of the hand-built book of tests/aging_helpers.py: what it
draws is the report's figures, and the PNG it writes opens as an image of a sensible size."""

from decimal import Decimal
from pathlib import Path

from matplotlib.image import imread
from matplotlib.patches import Rectangle
from PIL import Image

from starter.aging import aging_report
from starter.aging_chart import DPI, aging_figure, write_png
from tests.aging_helpers import AS_OF, BOOK


def bar_lengths(rectangles: list[Rectangle], horizontal: bool = False) -> list[Decimal]:
    return [Decimal(str(r.get_width() if horizontal else r.get_height())).quantize(Decimal("0.01")) for r in rectangles]


def test_the_bars_are_the_reports_amounts() -> None:
    report = aging_report(BOOK, AS_OF)
    figure = aging_figure(report)
    ages, stages = figure.axes[:2]
    eur = report.books[0]
    assert [tick.get_text() for tick in ages.get_xticklabels()] == ["not due", "1-30", "31-60", "61-90", "90+"]
    assert bar_lengths(ages.patches) == list(eur.by_age.values())  # type: ignore[arg-type]
    # Stages in the ladder's order, not the alphabet's.
    assert [tick.get_text() for tick in stages.get_yticklabels()] == ["scheduled", "level 1", "level 3", "litigation"]
    shown = dict(zip((t.get_text() for t in stages.get_yticklabels()), bar_lengths(stages.patches, True), strict=True))  # type: ignore[arg-type]
    assert shown == {stage.replace("_", " "): amount for stage, amount in eur.by_stage.items()}
    assert ages.get_title() == "EUR: 6\u202f100.00 outstanding (4 cases), DSO 83.2 days"
    assert "3\u202f000.00" in [text.get_text() for text in ages.texts]  # the 90+ bar's label
    # One row per currency: GBP below EUR.
    assert len(figure.axes) == 4
    assert figure.axes[2].get_title().startswith("GBP: 300.00 outstanding")


def test_the_png_is_written_and_opens(tmp_path: Path) -> None:
    path = tmp_path / "aging.png"
    write_png(aging_report(BOOK, AS_OF), path)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (12 * DPI, int((4.0 * 2 + 0.6) * DPI))
    pixels = imread(path)
    assert pixels.std() > 0.05  # drawn on, not a blank page


def test_an_empty_book_still_draws(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    write_png(aging_report([], AS_OF), path)
    with Image.open(path) as image:
        assert image.size[0] == 12 * DPI
