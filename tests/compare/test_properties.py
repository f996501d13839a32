"""Property tests (hypothesis): identity normalisation, the diff's invariants on the email key
through Arrow pages, and a fuzz of the config loader.

test_diff.py holds the id-key invariants on plain lists and test_columnar.py seeded comparisons
of the Arrow and list paths; these add arbitrary Unicode (every kind of blank, case, digits
that look like numbers), the email key, memberships split into random pages, and any text at
all for the config loader.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings, strategies as st

from oracle import ListMembership, diff_segment_lists
from reconcile.compare.diff import diff_segment
from reconcile.config import Config, parse_config
from reconcile.customerio import MemoryMembership
from reconcile.errors import ConfigError
from reconcile.identity import normalize_email, normalize_id, normalize_keys, normalize_series, normalizer

BLANKS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000"
text = st.text(st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(BLANKS + "AaÄä0@.")), max_size=8)
keys = st.sampled_from(["id", "email"])
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- identity normalisation

@FAST
@given(values=st.lists(st.one_of(st.none(), text), max_size=20), key=keys)
def test_the_vectorised_normalisation_is_the_rule_value_by_value(values, key):
    expected = [normalizer(key)(value) for value in values]
    assert normalize_keys(pa.array(values, pa.string()), key).to_pylist() == expected
    assert normalize_series(pd.Series(values, dtype=object), key).to_pylist() == expected


@FAST
@given(value=text)
def test_an_id_is_kept_exactly_unless_it_is_blank(value):
    normalised = normalize_id(value)
    assert normalised == (value if value.strip() else None)       # "000417" stays, " 7 " stays: ids are exact
    assert normalized_twice(normalize_id, value) == normalised


@FAST
@given(number=st.integers(-(2 ** 53), 2 ** 53))
def test_integer_ids_of_every_type_are_one_string(number):
    assert normalize_id(number) == normalize_id(float(number)) == normalize_id(Decimal(number)) == str(number)
    assert normalize_series(pd.Series([number]), "id").to_pylist() == [str(number)]
    assert normalize_id(True) is None                              # a boolean is never an identifier


@FAST
@given(value=text, left=st.text(" \t", max_size=2), right=st.text(" \t\n", max_size=2))
def test_an_email_ignores_case_and_surrounding_blanks(value, left, right):
    normalised = normalize_email(value)
    assert normalize_email(left + value + right) == normalised
    assert normalized_twice(normalize_email, value) == normalised
    if value.isascii():
        assert normalize_email(value.upper()) == normalised
    assert normalised is None or (normalised == normalised.strip() and normalised == normalised.lower())


def normalized_twice(normalize, value):
    once = normalize(value)
    return None if once is None else normalize(once)


# --------------------------------------------------------------------------- the diff's invariants

people = st.integers(0, 12)
spelling = st.tuples(people, st.sampled_from(["", " ", "\t"]), st.booleans())


def email(person: int, pad: str, upper: bool) -> str:
    address = f"p{person}@shop.example"
    return pad + (address.upper() if upper else address) + pad


member = st.tuples(st.one_of(st.none(), spelling), st.one_of(st.none(), people))   # (email or none, id or none)


@FAST
@given(truth_people=st.lists(spelling, max_size=25), members=st.lists(member, max_size=30),
       cuts=st.lists(st.integers(0, 30), max_size=3))
def test_diff_invariants_on_the_email_key_through_pages(truth_people, members, cuts):
    truth = pd.DataFrame({"email": [email(*p) for p in truth_people], "id": [p[0] for p in truth_people]})
    truth.index = pd.Index([normalize_email(e) for e in truth["email"]], dtype=object, name="key")
    truth = truth[~truth.index.duplicated()]
    identifiers = [{"email": None if e is None else email(*e), "id": None if i is None else str(i),
                    "cio_id": f"c{n}"} for n, (e, i) in enumerate(members)]
    columnar, lists = MemoryMembership(1), ListMembership(1)
    bounds = sorted({0, len(identifiers), *[min(c, len(identifiers)) for c in cuts]})
    for start, end in zip(bounds, bounds[1:]):
        page = {"identifiers": identifiers[start:end]}
        columnar.add_page(page)
        lists.add_page(page)
    diff = diff_segment(truth, columnar, "email")

    truth_keys = {f"p{p[0]}@shop.example" for p in truth_people}
    member_keys = {f"p{e[0]}@shop.example" for e, _ in members if e is not None}
    keyless = sum(1 for e, _ in members if e is None)
    assert diff.truth_count == len(truth_keys) == diff.matched + len(diff.missing)
    assert diff.customerio_count == len(member_keys) + keyless == diff.matched + len(diff.extra)
    assert diff.matched == len(truth_keys & member_keys)
    assert diff.customerio_profiles == len(members) == diff.customerio_count + diff.duplicate_profiles
    assert diff.keyless_profiles == keyless
    missing, extra = set(diff.missing["email"]), {normalize_email(e) for e in diff.extra["email"].dropna()}
    assert missing == truth_keys - member_keys and not missing & extra     # nobody on both sides
    assert extra == member_keys - truth_keys
    reference = diff_segment_lists(truth, lists, "email")
    assert (diff.matched, len(diff.missing), len(diff.extra)) == (reference.matched, len(reference.missing),
                                                                  len(reference.extra))
    if diff.truth_count:
        assert diff.mismatch_rate == (len(diff.missing) + len(diff.extra)) / diff.truth_count


# --------------------------------------------------------------------------- the config loader

VALID = """
[database]
url = "sqlite:///shop.db"
statement_timeout_seconds = 60
[customerio]
region = "eu"
app_api_key = "k-123"
timeout_seconds = 10
[identity]
key = "email"
[history]
keep_runs = 4
[email]
smtp_host = "mail.example"
from = "a@shop.example"
to = ["b@shop.example"]
[[segments]]
name = "buyers"
customerio_segment_id = 12
window_days = 30
tolerance = 0.01
sql = "SELECT email FROM customers WHERE created_at >= :window_start"
"""
SECTIONS = {
    "database": ["url", "statement_timeout_seconds"],
    "customerio": ["region", "base_url", "app_api_key", "timeout_seconds", "max_retries", "requests_per_second"],
    "identity": ["key"],
    "history": ["keep_runs", "trend_runs"],
    "email": ["smtp_host", "from", "to", "smtp_port", "starttls", "ssl", "username", "password", "subject_prefix",
              "send", "mask_emails", "timeout_seconds"],
    "checks": ["suites", "events_sql", "events_jsonl", "people_sql", "window_days", "max_event_ids", "sample_size"],
    "diagnosis": ["enabled", "max_people", "boundary_grace_seconds", "window_edge_counts", "lookup_sql"],
    "segments": ["name", "title", "customerio_segment_id", "window_days", "tolerance", "sql", "lookup_sql"],
}


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


scalars = st.one_of(st.booleans(), st.integers(-(2 ** 63), 2 ** 63 - 1), st.floats(),
                    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, 0, -1, 0.5, 2 ** 63 - 1]),
                    st.sampled_from(["", " ", "us", "eu", "id", "email", "always", "sqlite:///x.db", "a@b.example",
                                     "${HOME}", "${RECONCILE_FUZZ_UNSET}", "http://127.0.0.1:1", "postgresql://u:p@h/d",
                                     "SELECT 1 AS id", "::", "checks"]),
                    text)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(["a", "url", "x"]), inner,
                                                                       max_size=2)), max_leaves=4)


BASE = {  # VALID as tables: the fuzz below changes a few of its values and leaves the rest valid
    "database": {"url": "sqlite:///shop.db", "statement_timeout_seconds": 60},
    "customerio": {"region": "eu", "app_api_key": "k-123", "timeout_seconds": 10},
    "identity": {"key": "email"},
    "history": {"keep_runs": 4},
    "email": {"smtp_host": "mail.example", "from": "a@shop.example", "to": ["b@shop.example"]},
    "checks": {"events_sql": "SELECT 1 AS event_id"},
    "diagnosis": {"enabled": True},
    "segments": {"name": "buyers", "customerio_segment_id": 12, "sql": "SELECT email FROM customers"},
}


@st.composite
def configs(draw) -> str:
    """The valid base with one to four keys given any TOML value (an unknown key, or a key left out)."""
    tables = {section: dict(keys) for section, keys in BASE.items()}
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(SECTIONS)))
        name = draw(st.sampled_from(SECTIONS[section] + ["unknown_key"]))
        if draw(st.integers(0, 5)) == 0:
            tables[section].pop(name, None)
        else:
            tables[section][name] = draw(values)
    return render(tables)


def render(tables: dict) -> str:
    lines = []
    for section, keys in tables.items():
        lines.append("[[segments]]" if section == "segments" else f"[{section}]")
        lines += [f"{json.dumps(name)} = {toml_value(value)}" for name, value in keys.items()]
    return "\n".join(lines) + "\n"


def loads_or_one_line_error(text: str) -> Config | None:
    try:
        config = parse_config(text, "/srv/shop/config.toml")
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return None
    assert isinstance(config, Config)
    for segment in config.segments:                 # what a run computes with is a usable number
        assert math.isfinite(segment.window_days) and 0 <= segment.tolerance <= 1
    assert math.isfinite(config.customerio.timeout_seconds) and config.customerio.timeout_seconds > 0
    assert math.isfinite(config.database.statement_timeout_seconds)
    return config


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_is_a_config_or_one_line_error(text):
    loads_or_one_line_error(text)


@settings(max_examples=400, deadline=None)
@given(text=configs())
def test_any_value_under_any_key_is_a_config_or_one_line_error(text):
    loads_or_one_line_error(text)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_valid_config_with_a_few_characters_changed_is_a_config_or_one_line_error(data):
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        text = text[:at] + data.draw(st.text(max_size=3)) + text[at + cut:]
    loads_or_one_line_error(text)


def test_the_valid_configs_load():
    assert loads_or_one_line_error(VALID).identity_key == "email"
    assert loads_or_one_line_error(render(BASE)) is not None


def test_numbers_that_no_run_could_use_are_refused():
    for key, value, expected in [("window_days", "inf", "expected a finite number, got inf"),
                                 ("window_days", "nan", "expected a finite number, got nan"),
                                 ("tolerance", "nan", "expected a finite number, got nan"),
                                 ("window_days", "1e308", "expected at most 36,600 days, got 1e+308")]:
        text = VALID.replace("window_days = 30", "").replace("[[segments]]\n", f"[[segments]]\n{key} = {value}\n")
        text = text.replace("tolerance = 0.01\n", "") if key == "tolerance" else text
        try:
            parse_config(text, "/srv/shop/config.toml")
        except ConfigError as exc:
            assert str(exc) == f"config.toml: segments[0].{key}: {expected}"
        else:
            raise AssertionError(f"{key} = {value} was accepted")
