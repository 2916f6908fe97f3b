"""The PDF itself: page size, the recipient in the envelope window, escaping, strict templates,
no fetch outside the assets, identical bytes on a retry, and what the case keeps of a letter."""

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from temporalio.testing import ActivityEnvironment

from activities.case_file import CaseFile
from activities.ledger import SentLedger
from activities.letters import LetterActivities
from activities.letters.documents import LetterRenderer, RefusedFetch
from activities.letters.postal import OutboxLetters
from activities.outbox import Outbox
from tests.pdf_reading import page_sizes_mm, pdf_text, text_runs
from tests.test_letters import CREDITOR, notice_request

ADDRESS = ["Boulangerie Martin SARL", "12 rue Oberkampf", "75011 Paris"]


def test_letters_are_a4(tmp_path: Path) -> None:
    for step in ("formal_notice", "level2_registered_letter", "invoice_copy"):
        pdf = LetterRenderer(CREDITOR).pdf(notice_request(), step)
        for width, height in page_sizes_mm(pdf):
            assert (round(width), round(height)) == (210, 297)


@pytest.mark.parametrize("step", ["formal_notice", "level2_registered_letter", "invoice_copy"])
def test_the_recipient_block_shows_through_a_right_hand_dl_window(step: str) -> None:
    # DL envelope, window on the right: about 100 mm from the left edge, 45 mm from the top, 45 mm high.
    runs = {r.text: r for r in text_runs(LetterRenderer(CREDITOR).pdf(notice_request(), step))}
    lines = [runs[line] for line in ADDRESS]
    assert all(99 <= r.left_mm <= 102 for r in lines), lines
    assert 45 <= lines[0].top_mm <= 52, lines[0]
    assert all(r.top_mm <= 90 for r in lines), lines


def test_customer_text_is_escaped_not_interpreted() -> None:
    name = "Claire <script>alert(1)</script> & Fils"
    request = notice_request(customer={"name": name})
    html, _ = LetterRenderer(CREDITOR).html(request, "formal_notice")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Fils" in html
    # Printed as the customer typed it, not run or swallowed as markup.
    assert name in pdf_text(LetterRenderer(CREDITOR).pdf(request, "formal_notice"))


def override(root: Path, template: str, text: str) -> Path:
    target = root / "letters" / template
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return root


def test_an_operator_template_overrides_one_step_and_language_only(tmp_path: Path) -> None:
    templates = override(
        tmp_path,
        "fr/formal_notice.html",
        '{% extends "_letter.html" %}{% block object %}notre propre objet{% endblock %}'
        "{% block body %}<p>Texte maison pour {{ m.invoice_id }}.</p>{% endblock %}",
    )
    renderer = LetterRenderer(CREDITOR, templates)
    request = notice_request()
    own = pdf_text(renderer.pdf(request, "formal_notice"))
    assert f"Texte maison pour {request.invoice_id}." in own
    assert "Claire Lemaire" in own  # the packaged base layout still applies
    english = notice_request(customer={"language": "en"})
    assert "formal notice to pay" in pdf_text(renderer.pdf(english, "formal_notice"))
    assert "demande de paiement" in pdf_text(renderer.pdf(request, "level2_registered_letter"))


def test_a_template_naming_a_missing_variable_fails_the_render(tmp_path: Path) -> None:
    templates = override(tmp_path, "fr/formal_notice.html", "<p>{{ m.no_such_thing }}</p>")
    with pytest.raises(UndefinedError, match="no_such_thing"):
        LetterRenderer(CREDITOR, templates).pdf(notice_request(), "formal_notice")


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[str]]]:
    """A local web server that records what is asked of it: the render must ask nothing."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "markup",
    [
        '<link rel="stylesheet" href="{url}/tracker.css">',
        '<img src="{url}/pixel.png">',
        "<style>@import url({url}/more.css);</style>",
        '<img src="file:///etc/hostname">',
        '<link rel="stylesheet" href="../templates/_letter.html">',
    ],
)
def test_nothing_outside_the_assets_is_fetched(tmp_path: Path, web_server: tuple[str, list[str]], markup: str) -> None:
    url, asked = web_server
    templates = override(
        tmp_path,
        "fr/formal_notice.html",
        '{% extends "_letter.html" %}{% block body %}' + markup.format(url=url) + "{% endblock %}",
    )
    with pytest.raises(RefusedFetch, match="refused"):
        LetterRenderer(CREDITOR, templates).pdf(notice_request(), "formal_notice")
    assert asked == []


def test_a_retried_render_gives_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    request = notice_request()
    first = LetterRenderer(CREDITOR).pdf(request, "formal_notice")
    # A retry runs later, maybe on another worker: no wall-clock time may reach the bytes (fonts
    # subsetters and PDF writers like to stamp one).
    later = time.time() + 400 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert LetterRenderer(CREDITOR).pdf(request, "formal_notice") == first


def test_the_letter_sent_is_the_one_kept_in_the_case_file_and_hashed_on_the_case(tmp_path: Path) -> None:
    ledger = SentLedger(tmp_path / "ledger.sqlite3")
    case_file = CaseFile(tmp_path / "cases")
    letters = LetterActivities(ledger, OutboxLetters(tmp_path / "outbox"), CREDITOR, case_file)
    request = notice_request()
    delivery = ActivityEnvironment().run(letters.send_registered_letter, request)
    assert delivery.document is not None
    kept = case_file.read(delivery.document)
    posted = (Outbox(tmp_path / "outbox", "letters").directory / request.message_id / "letter.pdf").read_bytes()
    assert kept == posted
    assert kept.startswith(b"%PDF-")
    assert delivery.content_sha256 == hashlib.sha256(kept).hexdigest()
    assert delivery.recipient == "Boulangerie Martin SARL, 12 rue Oberkampf, 75011 Paris, FR"
    # A retry after the letter went out reports the same letter, not a new one.
    again = ActivityEnvironment().run(letters.send_registered_letter, request)
    assert (again.content_sha256, again.document, again.recipient) == (
        delivery.content_sha256,
        delivery.document,
        delivery.recipient,
    )
    assert len(Outbox(tmp_path / "outbox", "letters").envelopes()) == 1
