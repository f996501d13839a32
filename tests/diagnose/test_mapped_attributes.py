"""A mapped Customer.io attribute that no profile carries is a warning, and the diagnosis never says
an attribute agrees when it could not compare it (issue 14, point 1), on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json

from reconcile.cli import main

from known_buyers import AS_OF, CONFIG, DAY, RECENT, base, buyer, fill_shop, profile, run_buyers, served

WARNING = ("attribute `last_ordered_at` is on 0 of 4 profiles read: check its spelling "
           '([segments.compare] last_order_at = "last_ordered_at")')


def test_a_misspelled_attribute_is_a_warning_everywhere(any_db_url, tmp_path, capsys):
    """``last_order_at = "last_ordered_at"``: four differing people, none of their profiles has it."""
    rows, people = base()
    rows += [buyer(RECENT, id=i, email=f"p{i}@shop.test") for i in (10, 11)]
    people += [profile(RECENT, f"c{i}", str(i), f"p{i}@shop.test") for i in (10, 11)]
    people += [profile(RECENT, f"c{i}", str(i), f"p{i}@shop.test", member=True) for i in (20, 21)]
    fill_shop(any_db_url, rows)
    typo = CONFIG.replace('last_order_at = "last_order_at"', 'last_order_at = "last_ordered_at"')
    with served(people) as sandbox:
        config = tmp_path / "config.toml"
        config.write_text(typo.format(url=any_db_url, base_url=sandbox.url))
        assert main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--as-of", AS_OF.isoformat()]) == 1
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["segments"][0]["warnings"] == [WARNING]
    assert f"  warning: {WARNING}" in out
    assert WARNING.replace('"', "&#34;") in (tmp_path / "out" / "report.html").read_text()


def test_an_attribute_that_was_not_compared_is_never_said_to_agree(any_db_url):
    """Extra people: the lookup returns no last_order_at, so only email_consent is compared; and a
    misspelled attribute (on none of the profiles) is not compared either."""
    no_order = CONFIG.replace("SELECT id, email, email_consent, last_order_at FROM customers\nWHERE CAST",
                              "SELECT id, email, email_consent FROM customers\nWHERE CAST")
    rows, people = base()
    rows += [buyer(AS_OF - 60 * DAY)]
    people += [profile(AS_OF - 60 * DAY, member=True)]
    segment = run_buyers(any_db_url, rows, people, no_order).segments[0]
    [row] = segment.discrepancies.to_dict("records")
    assert (row["side"], row["cause"]) == ("extra_in_customerio", "unexplained")
    assert row["evidence"] == ("the mapped attributes compared agree (email_consent); not compared: last_order_at "
                               "(the shop's row has no such column); map more attributes in [segments.compare]")


def test_unexplained_names_a_misspelled_attribute_as_not_compared(any_db_url):
    rows, people = base()
    rows += [buyer(None, id=12, email="p12@shop.test")]
    people += [profile(None, "c12", "12", "p12@shop.test", member=True)]
    typo = CONFIG.replace('last_order_at = "last_order_at"', 'last_order_at = "last_ordered_at"')
    segment = run_buyers(any_db_url, rows, people, typo).segments[0]
    [row] = segment.discrepancies.to_dict("records")
    assert row["cause"] == "unexplained"
    assert row["evidence"].startswith("the mapped attributes compared agree (email_consent); not compared: "
                                      "last_ordered_at (on none of the profiles read)")
    assert segment.warnings == [WARNING.replace("0 of 4", "0 of 1")]
