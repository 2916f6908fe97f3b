"""Letters and documents as PDF: a jinja2 template rendered to HTML, then laid out by WeasyPrint.

Rendering is offline and deterministic. The only files WeasyPrint may read are the package's assets
(the stylesheet); any other URL, http or file, fails the render instead of being fetched, so a
template cannot leak a request to the outside nor pull in a file from the worker's disk. The PDF's
dates come from the letter's own date (the templates' `dcterms` meta), so a retried activity gives
the same bytes and the same SHA-256 on the case.
"""

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint import HTML, URLFetcher
from weasyprint.urls import FatalURLFetchingError, URLFetcherResponse

from activities.rendering import build_context, channel_overrides, template_environment
from domain.delivery import MessageRequest
from dunning.settings import Creditor

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
ASSETS = PACKAGE / "assets"
INVOICE_COPY = "invoice_copy"


# WeasyPrint ships no type hints: its classes are Any to mypy.
class RefusedFetch(FatalURLFetchingError):  # type: ignore[misc]
    """A template or stylesheet asked for a resource outside the package's assets."""


class AssetsOnly(URLFetcher):  # type: ignore[misc]
    """Serves files under `root` and refuses everything else, before any connection is made."""

    def __init__(self, root: Path) -> None:
        super().__init__(fail_on_errors=True, allowed_protocols=("file",))
        self._root = root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefusedFetch(f"refused to fetch {url}: letters use only their packaged assets")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            raise RefusedFetch(f"refused to fetch {url}: not one of the letters' assets")
        # WeasyPrint ignores a stylesheet served without its type.
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})


def html_to_pdf(html: str, assets: Path = ASSETS) -> bytes:
    """`html` laid out as PDF, its stylesheets read from `assets` only (the letters' by default)."""
    document = HTML(string=html, base_url=assets.as_uri() + "/", url_fetcher=AssetsOnly(assets))
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)  # write_pdf returns the bytes when given no target
    return pdf


class LetterRenderer:
    """The letters' templates (the operator's overrides first) and the creditor who signs them."""

    def __init__(self, creditor: Creditor, template_dir: Path | None = None) -> None:
        self._creditor = creditor
        self._templates = template_environment(TEMPLATES, channel_overrides(template_dir, PACKAGE))

    def html(self, request: MessageRequest, template: str) -> tuple[str, tuple[str, ...]]:
        """The letter `template` (a step name, or `invoice_copy`) as HTML, and the render's notes."""
        context = build_context(request, self._creditor)
        page = self._templates.get_template(f"{request.customer.language}/{template}.html")
        return page.render(m=context.values), context.notes

    def pdf(self, request: MessageRequest, template: str) -> bytes:
        return html_to_pdf(self.html(request, template)[0])


def render_invoice_copy(request: MessageRequest, creditor: Creditor, template_dir: Path | None = None) -> bytes:
    """A "copie de facture" PDF from the invoice's data in the request, for the invoice resend."""
    return LetterRenderer(creditor, template_dir).pdf(request, INVOICE_COPY)
