"""Dates as far as Python goes: the epoch parameters are 64-bit on every database (an --as-of
past 2038-01-19T03:14:07Z selects the right people), an --as-of outside Python's years is a
one-line usage error, and one in the future is a warning."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from reconcile.cli import main
from reconcile.config import DatabaseConfig
from reconcile.shop.database import Window, bind_window, open_engine

from known_stage import fast_retries, sandbox, stage, write_config  # noqa: F401 (fixtures)

AFTER_2038 = datetime(2040, 6, 1, 12, 0, tzinfo=timezone.utc)
DAY = 86_400


def test_epochs_past_2038_select_the_right_people(any_db_url):
    as_of = int(AFTER_2038.timestamp())
    people = {1: as_of - 29 * DAY, 2: as_of - 31 * DAY, 3: as_of + 60, 4: as_of - 1}   # in, before, after, in
    setup = create_engine(any_db_url)
    with setup.begin() as conn:
        conn.execute(text("CREATE TABLE buyers (id INTEGER PRIMARY KEY, last_order_epoch BIGINT)"))
        for person, epoch in people.items():
            conn.execute(text("INSERT INTO buyers VALUES (:id, :epoch)"), {"id": person, "epoch": epoch})
    setup.dispose()
    engine = open_engine(DatabaseConfig(url=any_db_url))
    sql = ("SELECT id FROM buyers WHERE last_order_epoch >= :window_start_epoch "
           "AND last_order_epoch < :as_of_epoch ORDER BY id")
    statement, values = bind_window(sql, engine.dialect.name, Window.ending(AFTER_2038, 30))
    with engine.connect() as conn:
        assert [row[0] for row in conn.execute(statement, values)] == [1, 4]
    engine.dispose()


@pytest.mark.parametrize("as_of, said", [
    ("0001-01-01T00:00:00+01:00", "argument --as-of: '0001-01-01T00:00:00+01:00' is outside years 1 to 9999 in "
                                  "UTC; give a later or earlier instant (see reconcile run --help)"),
    ("0001-01-20T00:00:00Z", "--as-of 0001-01-20T00:00:00+00:00 minus window_days = 30 is before year 1; "
                             "choose a later --as-of"),
])
def test_an_as_of_outside_pythons_years_is_a_usage_error(stage, sandbox, tmp_path, capsys, as_of, said):
    config = write_config(tmp_path, stage[0], sandbox.url)
    assert main(["run", "--config", str(config), "--as-of", as_of, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip("\n").endswith(said) and "Traceback" not in err
    assert sandbox.requests == []                                  # stopped before anything ran


def test_an_as_of_in_the_future_is_a_warning_and_the_run_goes_on(stage, sandbox, tmp_path, capsys):
    config = write_config(tmp_path, stage[0], sandbox.url)
    assert main(["run", "--config", str(config), "--as-of", "2099-01-01T00:00:00Z", "--no-history"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("reconcile: warning: --as-of 2099-01-01T00:00:00+00:00 is in the future (now is ")
    assert "windows end after today, so the shop cannot hold what they ask for yet" in err
