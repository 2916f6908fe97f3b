"""The aging report as a picture (`dunning report --format png`): per currency, the outstanding amount
by days overdue and by stage, drawn from the same `AgingReport` as the table, CSV and JSON.

Drawn with matplotlib's Agg canvas on a `Figure` of its own: no display, no pyplot and its global state,
so it runs in a container, over SSH and in CI alike.
"""

from decimal import Decimal
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from domain.models import Stage
from starter.aging import AgingReport, BookReport

DPI = 100
_ROW_INCHES = 4.0
_WIDTH_INCHES = 12.0
# Older is redder: the eye goes to what is most at risk.
_AGE_COLOURS = ("#9bbbd9", "#f2d16b", "#f0a04b", "#e0663c", "#b8312f")
_STAGE_COLOUR = "#5b7fa6"


def aging_figure(report: AgingReport) -> Figure:
    """One row per currency: bars by age on the left, by stage on the right, amounts written on them."""
    rows = max(len(report.books), 1)
    figure = Figure(figsize=(_WIDTH_INCHES, _ROW_INCHES * rows + 0.6), dpi=DPI, layout="constrained")
    figure.suptitle(f"Open amounts as of {report.as_of}", fontsize=14)
    if not report.books:
        axes = figure.subplots()
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no case in the book", ha="center", va="center", fontsize=12)
        return figure
    grid = figure.subplots(rows, 2, squeeze=False)
    for book, (by_age, by_stage) in zip(report.books, grid, strict=True):
        _ages(by_age, book)
        _stages(by_stage, book)
    return figure


def write_png(report: AgingReport, path: Path) -> None:
    figure = aging_figure(report)
    FigureCanvasAgg(figure)  # binds the figure to Agg: savefig renders without any display
    figure.savefig(path, format="png")


def _ages(axes: Axes, book: BookReport) -> None:
    labels = [bucket.replace("_", " ") for bucket in book.by_age]
    amounts = [float(amount) for amount in book.by_age.values()]
    bars = axes.bar(labels, amounts, color=_AGE_COLOURS[: len(amounts)])
    axes.bar_label(bars, labels=[_money(a) for a in book.by_age.values()], padding=2, fontsize=9)
    dso = f"DSO {book.dso_days} days" if book.dso_days is not None else "DSO: nothing due in the window"
    axes.set_title(
        f"{book.currency}: {_money(book.outstanding)} outstanding ({_cases(book.outstanding_cases)}), {dso}",
        fontsize=11,
    )
    axes.set_xlabel("days overdue")
    axes.set_ylabel(book.currency)
    axes.margins(y=0.15)  # room for the labels above the bars


def _stages(axes: Axes, book: BookReport) -> None:
    ladder = [stage.value for stage in Stage]
    stages = sorted(book.by_stage, key=lambda s: ladder.index(s) if s in ladder else len(ladder))
    bars = axes.barh(
        [s.replace("_", " ") for s in stages], [float(book.by_stage[s]) for s in stages], color=_STAGE_COLOUR
    )
    axes.bar_label(bars, labels=[_money(book.by_stage[s]) for s in stages], padding=2, fontsize=9)
    axes.invert_yaxis()  # the ladder's order, top-down
    litigation = f"; in litigation {_money(book.in_litigation)}" if book.litigation_cases else ""
    axes.set_title(f"by stage{litigation}", fontsize=11)
    axes.set_xlabel(book.currency)
    axes.margins(x=0.2)


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}".replace(",", "\u202f")  # thin space between thousands, as in French
