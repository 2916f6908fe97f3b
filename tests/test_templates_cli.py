"""`dunning templates`: listing with the operator's overrides, previews to the terminal and to PDF."""

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from starter.cli import app
from tests.conftest import make_invoice
from tests.pdf_reading import pdf_text

runner = CliRunner()


def invoice_file(tmp_path: Path) -> Path:
    invoice = make_invoice(
        date(2026, 2, 4),
        invoice_id="F-2026-0042",
        order_reference="BC-2025-118",
        customer={"siren": "552100554"},
    )
    path = tmp_path / "invoice.json"
    path.write_text(json.dumps(invoice.model_dump(mode="json")), encoding="utf-8")
    return path


def test_list_marks_overridden_and_operator_only_templates(tmp_path: Path) -> None:
    (tmp_path / "letters" / "fr").mkdir(parents=True)
    (tmp_path / "letters" / "fr" / "formal_notice.html").write_text("x")
    (tmp_path / "letters" / "fr" / "own_letter.html").write_text("x")
    result = runner.invoke(app, ["templates", "list", "--template-dir", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    rows = {tuple(cell.strip() for cell in line.split("│")[1:5]) for line in result.output.splitlines()}
    assert ("formal_notice", "letters", "fr", "overridden") in rows
    assert ("formal_notice", "letters", "en", "packaged") in rows
    assert ("formal_notice", "email", "fr", "packaged") in rows
    assert ("own_letter", "letters", "fr", "operator") in rows
    assert ("level2_sms", "sms", "en", "packaged") in rows


def test_preview_a_formal_notice_to_pdf(tmp_path: Path) -> None:
    out = tmp_path / "notice.pdf"
    result = runner.invoke(
        app, ["templates", "preview", "formal_notice", "--invoice", str(invoice_file(tmp_path)), "--pdf", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes())
    # Rendered on the day the step runs (J+35 from 4 February 2026, a Wednesday: 11 March).
    assert "Paris, le 11 mars 2026" in text
    assert "mise en demeure de payer \u2013 facture n° F-2026-0042" in text
    assert "Commande / contrat BC-2025-118" in text
    assert "SIREN 552 100 554" in text


def test_preview_an_email_in_english_to_the_terminal(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["templates", "preview", "invoice_resend", "--invoice", str(invoice_file(tmp_path)), "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    assert "Subject: Copy of your invoice F-2026-0042" in result.output
    assert "Attachment: invoice-copy-F-2026-0042.pdf" in result.output
    assert "acknowledge receipt" in result.output


def test_preview_uses_the_operator_template(tmp_path: Path) -> None:
    own = tmp_path / "templates" / "letters" / "fr"
    own.mkdir(parents=True)
    (own / "level2_registered_letter.html").write_text(
        '{% extends "_letter.html" %}{% block body %}<p>Notre relance maison.</p>{% endblock %}'
    )
    args = ["templates", "preview", "level2_registered_letter", "--invoice", str(invoice_file(tmp_path))]
    result = runner.invoke(app, [*args, "--template-dir", str(tmp_path / "templates")])
    assert result.exit_code == 0, result.output
    assert "Notre relance maison." in result.output
    assert "12 rue Oberkampf\n75011 Paris" in result.output


def test_preview_refuses_what_has_no_pdf_and_unknown_steps(tmp_path: Path) -> None:
    invoice = str(invoice_file(tmp_path))
    out = str(tmp_path / "x.pdf")
    sms = runner.invoke(app, ["templates", "preview", "level2_sms", "--invoice", invoice, "--pdf", out])
    assert sms.exit_code == 2
    assert "no PDF" in sms.output
    unknown = runner.invoke(app, ["templates", "preview", "level9_pigeon", "--invoice", invoice])
    assert unknown.exit_code == 2
    assert not (tmp_path / "x.pdf").exists()


def test_list_as_json_names_each_file(tmp_path: Path) -> None:
    (tmp_path / "sms" / "en").mkdir(parents=True)
    (tmp_path / "sms" / "en" / "level2_sms.txt").write_text("x")
    result = runner.invoke(app, ["templates", "list", "--template-dir", str(tmp_path), "--output", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {
        "step": "level2_sms",
        "channel": "sms",
        "language": "en",
        "source": "overridden",
        "path": "sms/en/level2_sms.txt",
    } in rows
    assert all(row["source"] == "packaged" for row in rows if row["path"] != "sms/en/level2_sms.txt")
