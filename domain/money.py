"""Money types: amounts are exact decimals with two places, currencies explicit ISO 4217 codes."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field

CENT = Decimal("0.01")

Amount = Annotated[Decimal, Field(max_digits=14, decimal_places=2, ge=0)]
PositiveAmount = Annotated[Decimal, Field(max_digits=14, decimal_places=2, gt=0)]
# A signed amount: balances go negative on overpayment.
Balance = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]


def to_cents(value: Decimal) -> Decimal:
    """Round once, half-up, as French practice does for interest (see fr-late-payment-law.md §3)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
