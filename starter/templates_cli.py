"""`dunning templates`: the message templates, packaged or the operator's own, and a preview of any step
for an invoice, without a Temporal server (the request is built as the case would build it).

Operator templates live in DUNNING_TEMPLATE_DIR, laid out like the packaged ones:
`<dir>/<email|sms|letters>/<fr|en>/<step>.<txt|html>`; a file there replaces the packaged one of the
same path, everything else stays packaged (README, "Templates").
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import lxml.html
import typer
from rich.console import Console

from activities import email, sms
from activities.letters import documents
from activities.rendering import LOCALES
from domain.calendar import send_slot
from domain.case import CaseState
from domain.delivery import MessageRequest
from domain.ladder import INVOICE_RESEND, Channel
from domain.models import InvoiceInput
from domain.policy_file import DEFAULT, packaged
from dunning.policy_source import configured_policy
from dunning.settings import ChannelSettings
from starter.listing import Column, Listing, Output, OutputOption, emit

templates_app = typer.Typer(help="Message templates: list them, preview one for an invoice.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

# Where each channel's templates are, by the folder name the operator's directory uses for it.
FOLDERS = {"email": (email.TEMPLATES, "txt"), "sms": (sms.TEMPLATES, "txt"), "letters": (documents.TEMPLATES, "html")}
ORDER = [s.name for s in packaged(DEFAULT).ladders["standard"]] + [INVOICE_RESEND, documents.INVOICE_COPY]


@dataclass(frozen=True)
class TemplateFile:
    folder: str
    language: str
    name: str
    packaged: bool
    overridden: bool

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.language}/{self.name}.{FOLDERS[self.folder][1]}"


def template_files(template_dir: Path | None) -> list[TemplateFile]:
    found: list[TemplateFile] = []
    for folder, (packaged_root, ext) in FOLDERS.items():
        own_root = template_dir / folder if template_dir else None
        for language in LOCALES:
            packaged = {p.stem for p in (packaged_root / language).glob(f"*.{ext}")}
            own = {p.stem for p in (own_root / language).glob(f"*.{ext}")} if own_root else set()
            found += [TemplateFile(folder, language, n, n in packaged, n in own) for n in packaged | own]

    def rank(t: TemplateFile) -> tuple[int, str, str]:
        # The ladder's order, then ad-hoc documents, then shared pieces (`_common`).
        return (ORDER.index(t.name) if t.name in ORDER else len(ORDER), t.name, t.folder + t.language)

    return sorted(found, key=rank)


TemplateDir = Annotated[
    Path | None,
    typer.Option("--template-dir", help="operator templates (default: DUNNING_TEMPLATE_DIR)", file_okay=False),
]


@templates_app.command("list")
def list_templates(template_dir: TemplateDir = None, output: OutputOption = Output.TABLE) -> None:
    """Every template by step, channel and language, and which the operator's directory overrides."""
    directory = template_dir or ChannelSettings().template_dir
    listing = Listing(
        [
            Column("step", "step", key=True),
            Column("channel", "channel"),
            Column("language", "language"),
            Column("source", "source"),
            Column("path", "path"),
        ],
        title=f"templates (operator directory: {directory or 'none'})",
    )
    for t in template_files(directory):
        source = "overridden" if t.overridden and t.packaged else "operator" if t.overridden else "packaged"
        listing.add(t.name, t.folder, t.language, source, t.path)
    emit(listing, output, console)


def load_invoice(path: Path) -> InvoiceInput:
    """One invoice in the InvoiceInput shape: a JSON object, or the first line of a JSON-lines file."""
    text = path.read_text(encoding="utf-8-sig").strip()
    try:
        json.loads(text)
    except json.JSONDecodeError:
        text = text.splitlines()[0]
    return InvoiceInput.model_validate_json(text)


def preview_request(invoice: InvoiceInput, step: str, channel: Channel | None, on: date | None) -> MessageRequest:
    policy = configured_policy()
    steps = {s.name: s for s in policy.ladder_for(invoice.customer.segment, invoice.amount)}
    if step not in steps and step not in (INVOICE_RESEND, documents.INVOICE_COPY):
        raise typer.BadParameter(f"{step!r} is no step of the {invoice.customer.segment.value} ladder")
    default_channel = steps[step].channel if step in steps else Channel.EMAIL
    # By default the morning the step runs, so that the amounts are the ones the customer would read.
    if on:
        day = on
    elif step in steps:
        day = invoice.due_on + timedelta(days=steps[step].offset_days)
    else:
        day = date.today()
    when = send_slot(day)
    return CaseState.open(invoice, policy).message(when, step, channel or default_channel, invoice.workflow_id)


def _html_text(html: str) -> str:
    body = lxml.html.document_fromstring(html).find("body")
    assert body is not None  # the parser always makes one
    for footer in body.findall(".//div[@class='footer']"):
        # Printed at the foot of every page; at the top of a text preview it would only confuse.
        body.remove(footer)
    for element in body.iter("br", "td", "th"):
        element.tail = ("\n" if element.tag == "br" else "  ") + (element.tail or "")
    text = "".join(str(piece) for piece in body.itertext())
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@templates_app.command("preview")
def preview(
    step: Annotated[str, typer.Argument(help="a ladder step (formal_notice, level1_email, ...) or invoice_copy")],
    invoice: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="invoice JSON (InvoiceInput shape)")],
    lang: Annotated[str | None, typer.Option(help="fr or en (default: the customer's)")] = None,
    channel: Annotated[Channel | None, typer.Option(help="default: the step's own channel")] = None,
    on: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="render as of this day")] = None,
    pdf: Annotated[Path | None, typer.Option(dir_okay=False, help="write the letter (or attachment) as PDF")] = None,
    template_dir: TemplateDir = None,
) -> None:
    """Render STEP for an invoice, to the terminal or to a PDF."""
    settings = ChannelSettings()
    directory = template_dir or settings.template_dir
    data = load_invoice(invoice)
    if lang:
        if lang not in LOCALES:
            raise typer.BadParameter(f"--lang must be one of {', '.join(LOCALES)}")
        data = data.model_copy(update={"customer": data.customer.model_copy(update={"language": lang})})
    request = preview_request(data, step, channel, on.date() if on else None)
    creditor = settings.creditor
    if step == documents.INVOICE_COPY or request.channel is Channel.REGISTERED_LETTER:
        letters = documents.LetterRenderer(creditor, directory)
        html, notes = letters.html(request, step)
        _notes(notes)
        if pdf:
            pdf.write_bytes(documents.html_to_pdf(html))
            console.print(f"wrote {pdf}")
        else:
            console.print(_html_text(html), highlight=False)
        return
    if request.channel is Channel.EMAIL:
        mail = email.EmailRenderer(creditor, directory).render(request)
        _notes(mail.notes)
        if pdf:
            if mail.attachment is None:
                raise typer.BadParameter(f"the {step} e-mail has no PDF attachment", param_hint="--pdf")
            pdf.write_bytes(mail.attachment.content)
            console.print(f"wrote {pdf}")
            return
        attached = f"\nAttachment: {mail.attachment.filename}" if mail.attachment else ""
        console.print(f"Subject: {mail.subject}{attached}\n\n{mail.text}", highlight=False)
        return
    if request.channel is Channel.SMS:
        if pdf:
            raise typer.BadParameter("an SMS has no PDF", param_hint="--pdf")
        message = sms.SmsRenderer(creditor, directory).render(request)
        _notes(message.notes)
        console.print(message.text, highlight=False)
        return
    raise typer.BadParameter(f"{request.channel.value} steps have no template to preview", param_hint="--channel")


def _notes(notes: tuple[str, ...]) -> None:
    for note in notes:
        errors.print(f"[yellow]note: {note}[/]")
