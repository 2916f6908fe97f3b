"""The sent-ledger itself, on SQLite and on a real PostgreSQL server: claim, sent, release, in doubt,
and two workers claiming one message at the same instant."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from activities.ledger import ClaimState, SentLedger, open_ledger
from activities.postgres_ledger import PostgresLedger
from dunning.settings import ChannelSettings
from tests.ledgers import LedgerBackend
from tests.postgres_server import PostgresServer

RACES = 50


def test_a_first_claim_goes_ahead_and_a_sent_message_is_never_claimed_again(ledger_backend: LedgerBackend) -> None:
    ledger = ledger_backend.open()
    assert ledger.claim("m-1", "invoice-F-1", "level1_email", "email").state is ClaimState.CLAIMED
    sent_at = ledger.mark_sent("m-1", "sendgrid", "sg-123")

    # Another worker, with its own connection, finds what the first recorded.
    again = ledger_backend.open().claim("m-1", "invoice-F-1", "level1_email", "email")
    assert again.state is ClaimState.SENT
    assert (again.provider, again.provider_message_id) == ("sendgrid", "sg-123")
    assert again.sent_at == sent_at
    assert ledger.count("sent") == 1


def test_a_claim_left_open_is_in_doubt_for_the_next_attempt(ledger_backend: LedgerBackend) -> None:
    first = ledger_backend.open()
    assert first.claim("m-2", "invoice-F-2", "level2_email", "email").state is ClaimState.CLAIMED
    # The first attempt's worker died here: neither sent nor released.
    second = ledger_backend.open()
    assert second.claim("m-2", "invoice-F-2", "level2_email", "email").state is ClaimState.IN_DOUBT
    assert second.claim("m-2", "invoice-F-2", "level2_email", "email").state is ClaimState.IN_DOUBT
    assert (second.count("sending"), second.count("unconfirmed"), second.count("sent")) == (0, 1, 0)


def test_a_released_claim_may_be_claimed_again(ledger_backend: LedgerBackend) -> None:
    ledger = ledger_backend.open()
    assert ledger.claim("m-3", "invoice-F-3", "level1_sms", "sms").state is ClaimState.CLAIMED
    ledger.release("m-3")
    assert ledger.count("sending") == 0
    assert ledger.claim("m-3", "invoice-F-3", "level1_sms", "sms").state is ClaimState.CLAIMED


def test_release_leaves_a_sent_or_unconfirmed_message_alone(ledger_backend: LedgerBackend) -> None:
    ledger = ledger_backend.open()
    ledger.claim("sent", "invoice-F-4", "level1_email", "email")
    ledger.mark_sent("sent", "outbox", None)
    ledger.claim("doubt", "invoice-F-4", "level2_email", "email")
    ledger.claim("doubt", "invoice-F-4", "level2_email", "email")
    ledger.release("sent")
    ledger.release("doubt")
    assert (ledger.count("sent"), ledger.count("unconfirmed")) == (1, 1)


def test_two_workers_claiming_one_message_at_once_only_one_sends(ledger_backend: LedgerBackend) -> None:
    # Two hosts, each with its own ledger object and connection, released together for each message.
    hosts = [ledger_backend.open(), ledger_backend.open()]
    barrier = threading.Barrier(len(hosts))

    def claim_all(host: int) -> list[ClaimState]:
        states = []
        for n in range(RACES):
            barrier.wait()
            states.append(hosts[host].claim(f"race-{n}", "invoice-F-5", "level1_email", "email").state)
        return states

    with ThreadPoolExecutor(len(hosts)) as pool:
        first, second = pool.map(claim_all, range(len(hosts)))
    for n, pair in enumerate(zip(first, second, strict=True)):
        assert sorted(pair) == [ClaimState.CLAIMED, ClaimState.IN_DOUBT], f"race-{n}: {pair}"
    assert hosts[0].count("unconfirmed") == RACES


def test_a_ledger_url_chooses_postgresql_and_none_the_sqlite_file(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.new_database()
    settings = ChannelSettings(var_dir=tmp_path, ledger_url=url)
    shared = open_ledger(settings.ledger_url, settings.ledger_path)
    assert isinstance(shared, PostgresLedger)
    shared.claim("m-6", "invoice-F-6", "level1_email", "email")
    assert PostgresLedger(url).count("sending") == 1
    assert not settings.ledger_path.exists()

    local = open_ledger(None, tmp_path / "ledger.sqlite3")
    assert isinstance(local, SentLedger)
    assert local.count("sending") == 0


def test_a_ledger_url_that_is_not_postgresql_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNNING_LEDGER_URL", "mysql://ledger@db/dunning")
    with pytest.raises(ValueError, match="DUNNING_LEDGER_URL must be a postgresql:// URL"):
        ChannelSettings()


def test_the_postgresql_schema_is_created_once_by_workers_starting_together(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    with ThreadPoolExecutor(8) as pool:
        ledgers = list(pool.map(lambda _: PostgresLedger(url), range(8)))
    ledgers[0].claim("m-7", "invoice-F-7", "level1_email", "email")
    assert all(ledger.count("sending") == 1 for ledger in ledgers)
    for ledger in ledgers:
        ledger.close()


def test_a_connection_the_server_dropped_is_replaced_at_the_next_call(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    ledger = PostgresLedger(url)
    ledger.claim("m-8", "invoice-F-8", "level1_email", "email")
    # As a PostgreSQL restart or failover would: every connection of the ledger's database is cut.
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (url.rsplit("/", 1)[1],),
        )
    # The call on the cut connection fails (the activity fails and Temporal retries it)...
    with pytest.raises(psycopg.OperationalError):
        ledger.count("sending")
    # ...and the retry gets a new connection, and finds the claim.
    assert ledger.claim("m-8", "invoice-F-8", "level1_email", "email").state is ClaimState.IN_DOUBT
    ledger.close()
