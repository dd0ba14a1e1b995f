"""Observability: the ``einsql`` logger, ``echo=True`` and progress bars, on real databases."""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
import threading

import duckdb
import numpy as np
import pytest
from conftest import Database, assert_matches, database_url

import einsql
from einsql.drivers import open_driver
from einsql.logger import logger

A = np.arange(12.0).reshape(3, 4)
B = np.arange(20.0).reshape(4, 5) - 7.0
C = np.eye(5)
EQUATION = "ij,jk,kl->il"


def statements(records: list[logging.LogRecord]) -> list[str]:
    """The SQL of each statement record, in order."""
    return [r.sql for r in records if hasattr(r, "sql")]


def run_logged(caplog: pytest.LogCaptureFixture, con: object) -> list[logging.LogRecord]:
    """A staged einsum on ``con`` with every einsql record captured; checks its result."""
    caplog.set_level(logging.DEBUG, logger="einsql")
    result = einsql.einsum(EQUATION, A, B, C, con=con, staged=True)
    assert_matches(result, np.einsum(EQUATION, A, B, C))
    return [r for r in caplog.records if r.name == "einsql"]


def test_every_statement_is_logged_once(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    records = run_logged(caplog, db.con)
    logged = statements(records)
    assert logged and len(logged) == len(set(logged))  # no statement twice
    created = [s for s in logged if re.match(r'CREATE (TEMPORARY )?TABLE "__einsql_\w+_t\d+"', s)]
    dropped = [s for s in logged if re.match(r'DROP TABLE (IF EXISTS )?"__einsql_\w+_t\d+"', s)]
    assert len(created) == len(dropped) == 1  # staged: one step table, the last step is the query
    queries = [s for s in logged if s.startswith(("WITH", "SELECT"))]
    settings = ("SELECT SET_CONFIG", "SELECT CURRENT_SETTING")  # PostgreSQL's, read and set
    assert len([s for s in queries if not s.startswith(settings)]) == 1
    # each statement record is followed by its duration, for the same purpose
    for k, record in enumerate(records):
        if hasattr(record, "sql"):
            after = next(r for r in records[k + 1 :] if hasattr(r, "seconds"))
            assert after.doing == record.doing and after.levelno == logging.DEBUG
            assert record.levelno == logging.DEBUG and record.doing in record.getMessage()
    assert db.leftovers() == []


def test_the_log_is_what_sqlite_ran(caplog: pytest.LogCaptureFixture) -> None:
    """SQLite's own trace of what it executed is the list of logged statements."""
    con = sqlite3.connect(":memory:")
    traced: list[str] = []
    con.set_trace_callback(traced.append)
    table = einsql.einsum("ij->ij", A, con=con, into="a_table")
    con.commit()
    operand = einsql.Table("a_table", table.shape)
    caplog.set_level(logging.DEBUG, logger="einsql")
    traced.clear()
    result = einsql.einsum(EQUATION, operand, B, C, con=con, staged=True)
    assert_matches(result, np.einsum(EQUATION, A, B, C))

    def normal(sql: str) -> str:  # executemany: one template logged, one INSERT per row traced
        return re.sub(r" VALUES \(.*\)$", " VALUES", sql)

    ran = [normal(s) for k, s in enumerate(traced) if k == 0 or normal(s) != normal(traced[k - 1])]
    assert [normal(s) for s in statements(caplog.records)] == ran
    con.close()


def test_phases_and_timings_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="einsql")
    einsql.einsum("ij,jk->ik", A, B, con="sqlite://")
    phases = [(r.call, r.phase) for r in caplog.records if hasattr(r, "phase")]
    order = ["prepare", "connect", "load", "run", "cleanup", "convert", "total"]
    assert phases == [("einsum", p) for p in order]
    assert all(r.levelno == logging.INFO and r.seconds >= 0 for r in caplog.records)
    assert "einsum on sqlite: done in" in caplog.records[-1].getMessage()
    assert not any(hasattr(r, "sql") for r in caplog.records)  # statements are DEBUG


def test_evaluate_and_minimize_log_their_phases(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="einsql")
    x = einsql.var("x", (3,))
    einsql.evaluate(einsql.sum(einsql.exp(x)), {"x": np.zeros(3)}, backend="duckdb")
    w = einsql.var("w", (2,))
    einsql.minimize(einsql.sum((w - np.array([1.0, 2.0])) ** 2.0), w, {}, steps=3, lr=0.1)
    totals = [r.call for r in caplog.records if getattr(r, "phase", None) == "total"]
    assert totals == ["evaluate", "minimize"]  # minimize's iterate is part of its call
    run = [r for r in caplog.records if getattr(r, "phase", None) == "run"]
    assert [r.call for r in run] == ["evaluate", "minimize"]
    assert any("WITH RECURSIVE" in s for s in statements(caplog.records))


def test_a_password_never_appears(caplog: pytest.LogCaptureFixture) -> None:
    url = database_url("postgres")
    user, _, rest = url.partition("://")[2].partition("@")
    secret = "s3cret-Pw-42"
    with_password = f"postgresql://{user.partition(':')[0]}:{secret}@{rest}"
    caplog.set_level(logging.DEBUG, logger="einsql")
    try:
        einsql.einsum("ij,jk->ik", A, B, con=with_password, echo=True)
    except einsql.DatabaseError as error:  # a server that checks passwords refuses it
        assert secret not in str(error)
    with pytest.raises(einsql.DatabaseError):
        einsql.einsum("ij->", einsql.Table("no_such_table", (3, 4)), con=with_password)
    assert caplog.records
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert not any(secret in str(value) for value in vars(record).values())


def test_a_failed_statement_is_logged_with_its_purpose(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="einsql")
    with pytest.raises(einsql.DatabaseError, match="checking the contents of table 'missing'"):
        einsql.einsum("ij->", einsql.Table("missing", (3, 4)), con="sqlite://")
    failed = [r for r in caplog.records if "failed after" in r.getMessage()]
    assert failed and failed[0].doing.startswith("checking the contents of table 'missing'")
    totals = [r for r in caplog.records if getattr(r, "phase", None) == "total"]
    assert "failed (DatabaseError)" in totals[0].getMessage()


def test_echo_prints_each_statement_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    before = (logger.level, list(logger.handlers))
    einsql.einsum("ij,jk->ik", A, B, con="sqlite://", echo=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(r"^einsql: the query of the result: WITH", err, re.M)
    assert "einsql: einsum on sqlite: done in" in err
    assert (logger.level, list(logger.handlers)) == before  # nothing left behind
    einsql.einsum("ij,jk->ik", A, B, con="sqlite://")
    assert capsys.readouterr().err == ""


def test_a_session_echoes_its_calls(capsys: pytest.CaptureFixture[str]) -> None:
    with einsql.connect("duckdb://", echo=True) as session:
        session.einsum("ij,jk->ik", A, B)
        assert "the query of the result: WITH" in capsys.readouterr().err
        session.einsum("ij,jk->ik", A, B, echo=False)
        assert capsys.readouterr().err == ""
    x = einsql.var("x", (3,))
    einsql.evaluate(einsql.sum(x), {"x": np.ones(3)}, echo=True)
    assert "einsql: evaluate on duckdb: done" in capsys.readouterr().err


def echoed_beside(capsys: pytest.CaptureFixture[str], layout: str, level: int) -> list[str]:
    """The lines on stderr of an echoing einsum beside an application's stderr handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(layout))
    logging.getLogger().addHandler(handler)
    try:
        einsql.einsum("ij,jk->ik", A, B, con="sqlite://", echo=True)
    finally:
        logging.getLogger().removeHandler(handler)
    return capsys.readouterr().err.splitlines()


def test_echo_with_logging_configured_prints_each_line_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An application's own handler on standard error shows the records; echo adds none."""
    lines = echoed_beside(capsys, "app %(name)s %(message)s", logging.NOTSET)
    query = [line for line in lines if "the query of the result: WITH" in line]
    assert len(query) == 1 and query[0].startswith("app einsql ")
    assert lines and all(line.startswith("app einsql ") for line in lines)  # none echoed again


def test_echo_shows_only_its_own_threads_calls(capsys: pytest.CaptureFixture[str]) -> None:
    started, finished = threading.Event(), threading.Event()

    def other() -> None:
        started.wait()
        einsql.einsum("i->", np.arange(3.0), con="sqlite://")
        finished.set()

    thread = threading.Thread(target=other)
    thread.start()
    x = einsql.var("x", (2,))
    expression = einsql.sum(x)

    class Starting(dict):  # starts the other thread's call while this call echoes
        def get(self, key: str, default: object = None) -> object:
            started.set()
            finished.wait(10)
            return super().get(key, default)

    einsql.evaluate(expression, Starting(x=np.ones(2)), backend="sqlite", echo=True)
    thread.join()
    err = capsys.readouterr().err
    assert "evaluate on sqlite" in err and "einsum" not in err


def test_echo_with_an_application_handler_keeps_other_threads_quiet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Echo lowers the logger's level for its call only: another thread's DEBUG stays hidden."""
    handler = logging.StreamHandler(sys.stderr)  # as logging.basicConfig(level=WARNING) adds
    handler.setFormatter(logging.Formatter("app %(threadName)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    done = threading.Event()

    def other() -> None:
        while not done.is_set():
            einsql.einsum("i->", np.arange(3.0), con="sqlite://")

    thread = threading.Thread(target=other, name="quiet")
    thread.start()
    try:
        for _ in range(5):
            einsql.einsum("ij,jk->ik", A, B, con="sqlite://", echo=True)
    finally:
        done.set()
        thread.join()
        root.removeHandler(handler)
    lines = capsys.readouterr().err.splitlines()
    assert any("the query of the result" in line for line in lines)
    assert not any(line.startswith("app quiet") for line in lines)


def test_echo_prints_info_once_beside_an_info_handler(capsys: pytest.CaptureFixture[str]) -> None:
    """The application shows INFO (its format); echo adds only the DEBUG lines it hides."""
    lines = echoed_beside(capsys, "app %(message)s", logging.INFO)
    totals = [line for line in lines if "einsum on sqlite: done in" in line]
    assert len(totals) == 1 and totals[0].startswith("app ")
    assert any(line.startswith("einsql: the query of the result") for line in lines)


@pytest.fixture()
def big(duck: duckdb.DuckDBPyConnection) -> einsql.Table:
    """A DuckDB table long enough that summing it reports progress (about a second)."""
    rows = 3_000_000
    duck.execute("DROP TABLE IF EXISTS big")
    duck.execute(f"CREATE TABLE big AS SELECT range AS i0, 1.0 AS val FROM range({rows})")
    yield einsql.Table("big", (rows,))
    duck.execute("DROP TABLE big")


def settings(con: duckdb.DuckDBPyConnection) -> list[object]:
    names = ("enable_progress_bar", "enable_progress_bar_print")
    query = "SELECT " + ", ".join(f"current_setting('{name}')" for name in names)
    (row,) = con.execute(query).fetchall()
    return list(row)


def test_a_long_statement_shows_progress(
    duck: duckdb.DuckDBPyConnection,
    big: einsql.Table,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = settings(duck)
    monkeypatch.setenv("EINSQL_PROGRESS", "on")
    monkeypatch.setenv("EINSQL_PROGRESS_DELAY", "0")
    assert float(einsql.einsum("i->", big, con=duck)) == big.shape[0]
    err = capsys.readouterr().err
    assert re.search(r"einsql \[[#.]{30}\] \d+% ", err), err[:500]
    assert settings(duck) == before  # DuckDB's own settings are put back
    assert not any(t.name == "einsql-progress" for t in threading.enumerate())


def test_progress_waits_for_its_delay_and_can_be_switched_off(
    duck: duckdb.DuckDBPyConnection,
    big: einsql.Table,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EINSQL_PROGRESS", "on")
    monkeypatch.setenv("EINSQL_PROGRESS_DELAY", "60")
    einsql.einsum("i->", big, con=duck)
    monkeypatch.setenv("EINSQL_PROGRESS", "off")
    monkeypatch.setenv("EINSQL_PROGRESS_DELAY", "0")
    einsql.einsum("i->", big, con=duck)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("EINSQL_PROGRESS", "sometimes")
    with pytest.raises(einsql.OptionError, match="EINSQL_PROGRESS='sometimes': use auto"):
        einsql.einsum("i->", big, con=duck)


def test_progress_stops_when_the_statement_fails(
    duck: duckdb.DuckDBPyConnection,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EINSQL_PROGRESS", "on")
    monkeypatch.setenv("EINSQL_PROGRESS_DELAY", "0")
    before = settings(duck)
    value = "CASE WHEN range < 2999999 THEN range ELSE error('boom') END"
    failing = f"SELECT sum({value}) FROM range(3000000)"
    expected = r"the failing query failed on duckdb: .*boom"
    with pytest.raises(einsql.DatabaseError, match=expected), open_driver(duck) as driver:
        driver.doing = "the failing query"
        driver.query(failing)
    assert not any(t.name == "einsql-progress" for t in threading.enumerate())
    assert settings(duck) == before
