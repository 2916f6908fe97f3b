"""Which court an injonction de payer goes to (CPC 1406), and how soon its order must be served.

The court is the debtor's: between traders the commercial court of its seat (tribunal de commerce,
or one of the twelve tribunaux des activités économiques during their experiment; the chambre
commerciale of the tribunal judiciaire in Alsace-Moselle), otherwise the tribunal judiciaire. The
courts named come from `data/courts.csv`, each row with its source: the seat communes of common
courts and the departments a single court covers. Anything else is reported as not determined, for
a person to look up, rather than guessed. Dates decide both the TAE names (the experiment ends on
31 December 2028) and the service deadline (décret 2026-96), so both are data rows.
"""

import csv
import unicodedata
from dataclasses import dataclass
from datetime import date
from importlib import resources

from domain.models import Customer, CustomerKind

COMMERCIAL = "commercial"
CIVIL = "civil"
ALSACE_MOSELLE = frozenset({"57", "67", "68"})
# Where courts hold an injonction de payer's request forms (secondary sources, law reference §6).
FORMS = {COMMERCIAL: "Cerfa 12946*02", CIVIL: "Cerfa 12948*06"}


@dataclass(frozen=True)
class CourtRow:
    jurisdiction: str
    department: str
    city: str  # normalised, or "*" for the whole department
    court: str
    valid_from: date | None
    valid_until: date | None
    source: str

    def applies(self, department: str, city: str, on: date) -> bool:
        if self.department != department or self.city not in ("*", city):
            return False
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_until is None or on <= self.valid_until
        )


@dataclass(frozen=True)
class Court:
    """The competent court as far as the shipped data tells: `name` is None when it cannot say."""

    jurisdiction: str
    name: str | None
    generic: str  # the kind of court, named when `name` is not known
    reason: str
    source: str | None

    @property
    def form(self) -> str:
        return FORMS[self.jurisdiction]

    @property
    def addressee(self) -> str:
        return self.name or self.generic


def normalise_city(city: str) -> str:
    """'Saint-Brieuc Cedex 1', 'ST BRIEUC', 'Paris 11e' -> 'SAINT BRIEUC', 'PARIS'."""
    plain = unicodedata.normalize("NFKD", city).encode("ascii", "ignore").decode().upper()
    words = plain.replace("-", " ").replace("'", " ").split()
    if "CEDEX" in words:
        words = words[: words.index("CEDEX")]
    while words and (words[-1].isdigit() or words[-1].rstrip("ER").isdigit()):
        words.pop()
    return " ".join("SAINT" if w == "ST" else "SAINTE" if w == "STE" else w for w in words)


def department_of(postcode: str) -> str:
    """The département a French postcode belongs to (overseas ones have three digits)."""
    return postcode[:3] if postcode.startswith("97") else postcode[:2]


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _load() -> tuple[CourtRow, ...]:
    text = resources.files("activities.litigation.data").joinpath("courts.csv").read_text(encoding="utf-8")
    return tuple(
        CourtRow(
            jurisdiction=r["jurisdiction"],
            department=r["department"],
            city="*" if r["city"] == "*" else normalise_city(r["city"]),
            court=r["court"],
            valid_from=_date(r["valid_from"]),
            valid_until=_date(r["valid_until"]),
            source=r["source"],
        )
        for r in csv.DictReader(text.splitlines())
    )


COURTS = _load()


def competent_court(debtor: Customer, on: date) -> Court:
    """The court of the debtor's seat or home (CPC 1406) for a request filed `on`."""
    if debtor.kind is CustomerKind.BUSINESS:
        jurisdiction = COMMERCIAL
        why = "créance entre commerçants : juridiction commerciale du siège du débiteur (CPC art. 1406)"
        generic = "Tribunal de commerce (ou tribunal des activités économiques) du siège du débiteur"
    else:
        jurisdiction = CIVIL
        why = "débiteur non commerçant : tribunal judiciaire de son domicile (CPC art. 1406)"
        generic = "Tribunal judiciaire du domicile du débiteur"
    address = debtor.postal_address
    if address is None:
        return Court(jurisdiction, None, generic, f"{why} ; aucune adresse du débiteur au dossier", None)
    if address.country != "FR":
        reason = f"{why} ; débiteur établi hors de France ({address.country}) : juridiction à déterminer"
        return Court(jurisdiction, None, generic, reason, None)
    department, city = department_of(address.postcode), normalise_city(address.city)
    if jurisdiction == COMMERCIAL and department in ALSACE_MOSELLE:
        generic = "Chambre commerciale du tribunal judiciaire du siège du débiteur (Alsace-Moselle)"
    for row in COURTS:
        if row.jurisdiction == jurisdiction and row.applies(department, city, on):
            return Court(jurisdiction, row.court, generic, why, row.source)
    reason = (
        f"{why} ; la juridiction compétente pour {address.city} ({address.postcode}) n'est pas dans les données"
        " livrées : à déterminer (annuaire des juridictions, justice.fr, ou infogreffe.fr)"
    )
    return Court(jurisdiction, None, generic, reason, None)


@dataclass(frozen=True)
class ServiceDeadline:
    orders_from: date | None  # the first day of issue it applies to (None: before any later rule)
    months: int
    source: str


def _load_deadlines() -> tuple[ServiceDeadline, ...]:
    text = resources.files("activities.litigation.data").joinpath("service_deadlines.csv").read_text(encoding="utf-8")
    rows = [
        ServiceDeadline(_date(r["orders_from"]), int(r["months"]), r["source"])
        for r in csv.DictReader(text.splitlines())
    ]
    return tuple(sorted(rows, key=lambda r: r.orders_from or date.min))


SERVICE_DEADLINES = _load_deadlines()


def service_deadlines(filed_on: date) -> list[ServiceDeadline]:
    """The service deadlines an order on a request filed `filed_on` may fall under (CPC 1411, décret
    2026-96): the rule in force that day, and any rule for orders issued later."""
    in_force = [d for d in SERVICE_DEADLINES if d.orders_from is None or d.orders_from <= filed_on][-1:]
    return in_force + [d for d in SERVICE_DEADLINES if d.orders_from is not None and d.orders_from > filed_on]
