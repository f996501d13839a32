"""Every mapping checked before any verdict (issue 14, point 1), on SQLite, PostgreSQL and MariaDB: a
``[segments.compare]`` column (or ``window_column``) that neither the truth SQL nor the lookup
returns stops the run with one line naming the key path and the columns that exist, exit 2,
before anything is asked of Customer.io or written."""

from __future__ import annotations

import pytest

from reconcile.cli import main

from known_buyers import AS_OF, CONFIG, base, fill_shop, served

SECOND = CONFIG[CONFIG.index("[[segments]]"):].replace('name = "buyers"', 'name = "buyers_again"')


@pytest.mark.parametrize("mistake, line", [
    ('email_consent = "email_consent"\n', 'email_consnet = "email_consent"\n'),
    ('window_column = "last_order_at"', 'window_column = "last_ordered_at"'),
])
def test_a_mapped_column_no_query_returns_stops_the_run(any_db_url, tmp_path, capsys, mistake, line):
    rows, people = base()
    fill_shop(any_db_url, rows)
    text = CONFIG + SECOND.replace(mistake, line)          # the second segment's mapping
    with served(people) as sandbox:
        config = tmp_path / "config.toml"
        config.write_text(text.format(url=any_db_url, base_url=sandbox.url))
        code = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--as-of", AS_OF.isoformat()])
        requests = list(sandbox.requests)
    out, err = capsys.readouterr()
    key = "compare.email_consnet" if "consnet" in line else "window_column"
    column = "email_consnet" if "consnet" in line else "last_ordered_at"
    assert code == 2 and out == "" and requests == []
    assert err == (f'reconcile: error: config.toml: segments[1].{key}: neither the truth SQL nor the lookup_sql returns '
                   f'a column named "{column}"; they return id, email, email_consent, last_order_at; fix the name or '
                   "select the column\n")
    assert not (tmp_path / "out").exists()


def test_a_column_the_lookup_returns_is_enough(any_db_url, tmp_path):
    """phone is not in the truth SQL but the lookup returns it: a valid mapping."""
    rows, people = base()
    fill_shop(any_db_url, rows)
    text = (CONFIG.replace("SELECT id, email, email_consent, last_order_at FROM customers\nWHERE CAST",
                           "SELECT id, email, email_consent, last_order_at, email AS phone FROM customers\nWHERE CAST")
            + 'phone = "phone"\n')
    with served(people) as sandbox:
        config = tmp_path / "config.toml"
        config.write_text(text.format(url=any_db_url, base_url=sandbox.url))
        assert main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--as-of", AS_OF.isoformat(),
                     "--quiet"]) == 0


def test_validate_says_the_same(any_db_url, tmp_path, capsys):
    """``reconcile validate`` makes the check a run makes first, and exits as the run would (2)."""
    rows, people = base()
    fill_shop(any_db_url, rows)
    with served(people) as sandbox:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.replace('email_consent = "email_consent"\n', 'email_consnet = "email_consent"\n')
                          .format(url=any_db_url, base_url=sandbox.url))
        assert main(["validate", "--config", str(config)]) == 2
    assert ('config.toml: segments[0].compare.email_consnet: neither the truth SQL nor the lookup_sql returns a column '
            'named "email_consnet"') in capsys.readouterr().out
