"""Hostile camt files: entity bombs, external entities, DTDs naming a local file or a URL, deep nesting.

Each is refused as one located error, with nothing read from disk or the network and no line imported.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from starter.reconcile import parse_bank_file

# The samples shipped with the product (README, "Daily use").
FIXTURES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE = (FIXTURES / "camt053-sample.xml").read_bytes()
SECRET = "SECRET-MARKER-7f3a"


class Fetches:
    """A URL a DTD may name; counts who came to fetch it."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        fetches = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fetches.paths.append(self.path)
                body = f'<!ENTITY leak "{SECRET}">'.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fetches() -> Iterator[Fetches]:
    served = Fetches()
    thread = threading.Thread(target=served.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def with_doctype(doctype: str, entity: str | None = None) -> bytes:
    """The valid sample with a DOCTYPE before its root, and `entity` referenced in its first name."""
    prolog, _, document = SAMPLE.partition(b"<Document")
    body = b"<Document" + document
    if entity is not None:
        body = body.replace(b"<Nm>", f"<Nm>&{entity};".encode(), 1)
    return prolog + doctype.encode() + b"\n" + body


def billion_laughs() -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return f"<!DOCTYPE Document [{''.join(entities)}]>"


HOSTILE = {
    "billion-laughs": lambda file, url: with_doctype(billion_laughs(), "lol9"),
    "external-entity-file": lambda file, url: with_doctype(
        f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{file}">]>', "xxe"
    ),
    "external-entity-url": lambda file, url: with_doctype(
        f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "{url}/entity">]>', "xxe"
    ),
    "dtd-from-file": lambda file, url: with_doctype(f'<!DOCTYPE Document SYSTEM "file://{file}">', "leak"),
    "dtd-from-url": lambda file, url: with_doctype(f'<!DOCTYPE Document SYSTEM "{url}/dtd">', "leak"),
    "parameter-entity-url": lambda file, url: with_doctype(
        f'<!DOCTYPE Document [<!ENTITY % remote SYSTEM "{url}/param"> %remote;]>', "leak"
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_file_with_a_dtd_is_refused_and_fetches_nothing(name: str, fetches: Fetches, secret_file: Path) -> None:
    data = HOSTILE[name](secret_file, fetches.url)
    parsed = parse_bank_file(data, "hostile.xml")
    assert parsed.lines == []
    [error] = parsed.errors
    assert error.message == "a DOCTYPE is not allowed in a bank file"
    assert error.line_no == data[: data.index(b"<!DOCTYPE")].count(b"\n") + 1
    assert fetches.paths == []
    assert SECRET not in str(error)


def test_the_sample_without_a_dtd_still_imports() -> None:
    # The negative control: the same bytes minus the DOCTYPE are a valid statement.
    assert len(parse_bank_file(SAMPLE, "sample.xml").lines) == 8


def test_nesting_deeper_than_the_parser_allows_is_refused_with_its_line() -> None:
    prolog, _, document = SAMPLE.partition(b"<Document")
    deep = b"<Document" + document.replace(b"<Nm>", b"<Nm>" + b"<x>\n" * 300 + b"</x>" * 300, 1)
    parsed = parse_bank_file(prolog + deep, "deep.xml")
    assert parsed.lines == []
    [error] = parsed.errors
    assert error.message.startswith("not well-formed XML")
    assert error.line_no is not None
