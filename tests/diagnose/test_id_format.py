"""An identifier whose format shifted has a name, ``id_format`` (issue 14, point 3), on SQLite,
PostgreSQL and MariaDB: a missing person and an extra profile that are one customer spelled two
ways both get it, with both spellings and what differs; the diff itself stays exact.
"""

from __future__ import annotations

from sqlalchemy import String

from known_buyers import CONFIG, RECENT, base, buyer, customers_table, profile, run_buyers

EMAILS = CONFIG.replace("max_retries = 1", 'max_retries = 1\n[identity]\nkey = "email"')


def found(segment, key: str = "id") -> dict[str, tuple]:
    return {row[key]: (row["side"], row["cause"], row["severity"], row["evidence"], row["attribute"],
                       row["shop_value"], row["customerio_value"], row["difference"])
            for _, row in segment.discrepancies.iterrows()}


def test_leading_zeros_and_a_decimal_point(any_db_url):
    """Text ids in the shop; one integration strips leading zeros, another sends 7 as 7.0."""
    rows, people = base()
    rows = [{**row, "id": str(row["id"])} for row in rows] + [
        buyer(RECENT, id="0004830", email="zero@shop.test"), buyer(RECENT, id="7", email="seven@shop.test")]
    people += [profile(RECENT, "c4830", "4830", "zero@shop.test", member=True),
               profile(RECENT, "c7", "7.0", "seven@shop.test", member=True)]
    segment = run_buyers(any_db_url, rows, people, table=customers_table(String(20))).segments[0]
    # the diff stays exact: to Customer.io these are two other people
    assert (segment.matched, segment.missing_in_customerio, segment.extra_in_customerio) == (3, 2, 2)
    assert found(segment) == {
        "0004830": ("missing_in_customerio", "id_format", "high",
                    'Customer.io holds this customer as id "4830" (profile c4830), the shop as "0004830" '
                    "(leading zeros): an integration changed the identifier's format",
                    "id", "0004830", "4830", "leading zeros"),
        "4830": ("extra_in_customerio", "id_format", "high",
                 'id "4830" is shop customer "0004830" spelled another way (leading zeros): Customer.io keeps '
                 "them as two people", "id", "0004830", "4830", "leading zeros"),
        "7": ("missing_in_customerio", "id_format", "high",
              'Customer.io holds this customer as id "7.0" (profile c7), the shop as "7" (a decimal part of zeros): '
              "an integration changed the identifier's format", "id", "7", "7.0", "a decimal part of zeros"),
        "7.0": ("extra_in_customerio", "id_format", "high",
                'id "7.0" is shop customer "7" spelled another way (a decimal part of zeros): Customer.io keeps '
                "them as two people", "id", "7", "7.0", "a decimal part of zeros"),
    }
    assert segment.causes == {"id_format": {"count": 4, "severity": "high"}}


def test_an_email_the_normalisation_does_not_cover(any_db_url):
    """An email workspace: the shop's é is one character, Customer.io's is e + a combining accent,
    and another address arrived with a zero-width space; trimming and lower-casing cover neither."""
    rows, people = base()
    rows += [buyer(RECENT, id=10, email="émile@shop.test"), buyer(RECENT, id=11, email="zoe@shop.test")]
    people += [profile(RECENT, "c10", "10", "e\u0301mile@shop.test", member=True),
               profile(RECENT, "c11", "11", "zoe\u200b@shop.test", member=True)]
    segment = run_buyers(any_db_url, rows, people, EMAILS).segments[0]
    assert (segment.missing_in_customerio, segment.extra_in_customerio) == (2, 2)
    got = found(segment, "email")
    assert {k: v[1:3] for k, v in got.items()} == {
        "émile@shop.test": ("id_format", "high"), "e\u0301mile@shop.test": ("id_format", "high"),
        "zoe@shop.test": ("id_format", "high"), "zoe\u200b@shop.test": ("id_format", "high")}
    assert got["émile@shop.test"][3] == ('Customer.io holds this customer as email "e\u0301mile@shop.test" '
                                          '(profile c10), the shop as "émile@shop.test" (Unicode form (U+00E9, '
                                          "U+0301)): an integration changed the identifier's format")
    assert got["zoe\u200b@shop.test"][7] == "invisible characters (U+200B)"
    assert '"zoe\\u200b@shop.test"' in got["zoe@shop.test"][3]           # the invisible character, shown


def test_what_counts_as_one_identifier():
    from reconcile.diagnose.id_format import canonical, differences

    assert canonical(" 0004830\u00a0") == canonical("4830") == "4830"
    assert canonical("7.0") == canonical("007") == canonical("7") and canonical("7.50") == canonical("7.5")
    assert canonical("ABC-1") == canonical("abc-1") and canonical("STRASSE@x") == canonical("straße@x")
    assert canonical("4830") != canonical("48300") and canonical("7.01") != canonical("7.1")
    assert differences("\u00a0Ab7", "ab7") == ["surrounding whitespace (U+00A0)", "letter case"]
    assert differences("0070.0", "70") == ["leading zeros", "a decimal part of zeros"]
