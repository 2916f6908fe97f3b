"""Synthetic camt.053.001.02 statements of any size, for benchmarks and volume tests.

The output is deterministic. Entries cycle over `invoices`, each paying the balance of one invoice
(1.00 if it has none), and alternate the ways payers identify an invoice: structured RF reference,
invoice number in the free text, payer name only. Every tenth entry is a batch of two transactions.
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from stdnum.iso7064 import mod_97_10

from starter.bank.matching import OpenInvoice

ACCOUNT_IBAN = "FR7630003036200002026123456"
BOOKING_DATE = date(2026, 3, 4)

_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
<BkToCstmrStmt>
<GrpHdr><MsgId>SYNTH-{day}</MsgId><CreDtTm>{day}T05:30:00+01:00</CreDtTm></GrpHdr>
<Stmt>
<Id>SYNTH-STMT-{day}</Id>
<CreDtTm>{day}T05:30:00+01:00</CreDtTm>
<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{closing}</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
"""
_ENTRY = """<Ntry><NtryRef>{number}</NtryRef><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>SYN{number:08d}</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls>{batch}{transactions}</NtryDtls></Ntry>
"""
_BATCH = '<Btch><NbOfTxs>{count}</NbOfTxs><TtlAmt Ccy="EUR">{amount}</TtlAmt><CdtDbtInd>CRDT</CdtDbtInd></Btch>'
_TRANSACTION = """<TxDtls>
<Refs><AcctSvcrRef>SYN{number:08d}-{index}</AcctSvcrRef><EndToEndId>{end_to_end}</EndToEndId></Refs>
<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr><DbtrAcct><Id><IBAN>{payer_iban}</IBAN></Id></DbtrAcct></RltdPties>
<RmtInf>{remittance}</RmtInf></TxDtls>
"""
_FOOTER = "</Stmt>\n</BkToCstmrStmt>\n</Document>\n"


def make_camt053(n_entries: int, invoices: Sequence[OpenInvoice]) -> bytes:
    """A statement of `n_entries` booked credits (some of them batches) paying `invoices` in turn."""
    if not invoices:
        raise ValueError("need at least one invoice to pay")
    day = BOOKING_DATE.isoformat()
    entries = []
    closing = Decimal("0.00")
    payment = 0
    for number in range(1, n_entries + 1):
        count = 2 if number % 10 == 0 else 1
        transactions = []
        total = Decimal("0.00")
        for index in range(1, count + 1):
            invoice = invoices[payment % len(invoices)]
            amount = invoice.balance if invoice.balance > 0 else Decimal("1.00")
            transactions.append(
                _TRANSACTION.format(
                    number=number,
                    index=index,
                    end_to_end=f"E2E-{number}-{index}" if payment % 2 else "NOTPROVIDED",
                    amount=f"{amount:.2f}",
                    payer=escape(invoice.customer_name.upper()[:70]),
                    payer_iban=_payer_iban(invoice.customer_id),
                    remittance=_remittance(invoice, payment),
                )
            )
            total += amount
            payment += 1
        batch = _BATCH.format(count=count, amount=f"{total:.2f}") if count > 1 else ""
        entries.append(
            _ENTRY.format(
                number=number, amount=f"{total:.2f}", day=day, batch=batch, transactions="".join(transactions)
            )
        )
        closing += total
    header = _HEADER.format(day=day, iban=ACCOUNT_IBAN, closing=f"{closing:.2f}")
    return (header + "".join(entries) + _FOOTER).encode()


def _remittance(invoice: OpenInvoice, payment: int) -> str:
    style = payment % 3
    if style == 0 and invoice.payment_reference:
        return (
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
            f"<Ref>{escape(invoice.payment_reference)}</Ref></CdtrRefInf></Strd>"
        )
    if style == 1:
        return f"<Ustrd>FACT {escape(invoice.invoice_id)}</Ustrd>"
    return "<Ustrd>VIREMENT</Ustrd>"


def _payer_iban(customer_id: str) -> str:
    # A French IBAN with valid check digits, derived from the customer id so each payer keeps one.
    account = f"{sum(ord(ch) * 31**i for i, ch in enumerate(customer_id)) % 10**11:011d}"
    bban = f"3000400819{account}00"
    return f"FR{mod_97_10.calc_check_digits(bban + 'FR')}{bban}"
