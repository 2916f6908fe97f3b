"""Builders for the registered-letter tests: a letter as rendered, and the adapter aimed at the fake."""

from typing import Any

from activities.letters.merci_facteur import MerciFacteurLetters, PostalMode
from activities.letters.postal import Letter
from domain.models import PostalAddress
from dunning.settings import Creditor
from tests.fake_merci_facteur import SECRET_KEY, SERVICE_ID

PDF = b"%PDF-1.7\n% a formal notice\n%%EOF\n"
MESSAGE_ID = "3f2b8c1d9e4a4b6f8a7c5d3e2f1a0b9c"


def make_letter(**overrides: Any) -> Letter:
    values: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "recipient": "Boulangerie Martin SARL",
        "address": PostalAddress(lines=["12 rue Oberkampf", "Bâtiment B"], postcode="75011", city="Paris"),
        "html": "<p>Mise en demeure</p>",
        "email": "compta@boulangerie-martin.fr",
        "electronic_allowed": False,
        "pdf": PDF,
    }
    return Letter(**(values | overrides))


def merci_facteur(
    api_url: str, mode: PostalMode = PostalMode.PAPER, secret_key: str = SECRET_KEY, timeout: float = 5.0
) -> MerciFacteurLetters:
    return MerciFacteurLetters(SERVICE_ID, secret_key, 42, Creditor(), mode, api_url, timeout=timeout)
