"""The Exports path (issue 6): create, poll, download from the signed link, parse; against the sandbox.

Covered: the same members as the pages give; ``total`` 0 until done; a failed export; an
expired link asked for once more, then an error; the API key never sent to the file host;
``membership = "export" | "auto"`` through the whole audit; every plausible file form.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from reconcile.audit import run_audit
from reconcile.config import parse_config
from reconcile.customerio import CustomerIOClient
from reconcile.errors import CustomerIOError
from oracle import as_lists
from reconcile.customerio import MemoryMembership
from reconcile.customerio.exports import export_membership, parse_export, read_export
from reconcile.errors import ExportFailed
from reconcile.sandbox import Sandbox, Workspace

KEY = "export-key"


def workspace() -> Workspace:
    ws = Workspace()
    for i in range(1, 41):
        ws.add_person(f"c{i}", str(i) if i % 7 else None, f"P{i}@x.com" if i % 5 else None)
    ws.add_segment(3, "big", [f"c{i}" for i in range(1, 41) if i % 3])
    return ws


def client(sandbox: Sandbox) -> CustomerIOClient:
    return CustomerIOClient(api_key=KEY, base_url=sandbox.url, sleep=lambda seconds: None, rate_limit=10)


def test_export_gives_the_members_the_pages_give_and_keeps_the_key_home():
    with Sandbox(workspace(), api_key=KEY, rate_limit=None) as sandbox:
        sandbox.endpoints.exports.ready_after = 3
        seen = []
        with client(sandbox) as api:
            exported = export_membership(api, 3, on_status=lambda export: seen.append((export["status"], export["total"])))
            paged = api.segment_membership(3, page_size=7)
        assert seen == [("pending", 0), ("pending", 0), ("pending", 0), ("done", len(paged))]
        exported, paged = as_lists(exported), as_lists(paged)
        assert (exported.ids, exported.emails, exported.cio_ids) == (paged.ids, paged.emails, paged.cio_ids)
        assert sandbox.endpoints.exports.download_authorizations == [""]      # no bearer key to the file host
        assert len(sandbox.requests_to(r"^/v1/exports/customers$")) == 1


def test_a_failed_export_is_an_error_that_says_what_to_do():
    with Sandbox(workspace(), api_key=KEY, rate_limit=None) as sandbox:
        sandbox.endpoints.exports.fail_next = 1
        with client(sandbox) as api, pytest.raises(ExportFailed, match=r'failed .* membership = "pages"'):
            export_membership(api, 3)
        assert not sandbox.requests_to(r"/download$")


def test_an_export_that_never_finishes_stops_at_max_wait():
    with Sandbox(workspace(), api_key=KEY, rate_limit=None) as sandbox:
        sandbox.endpoints.exports.ready_after = 10**6
        with client(sandbox) as api, pytest.raises(ExportFailed, match="still \"pending\""):
            export_membership(api, 3, max_wait=20)


def test_an_expired_link_is_asked_for_once_more_then_it_is_an_error():
    with Sandbox(workspace(), api_key=KEY, rate_limit=None) as sandbox:
        exports = sandbox.endpoints.exports
        exports.url_ttl = -1                           # every link is already expired
        with client(sandbox) as api, pytest.raises(CustomerIOError, match=r"403 \(expired\), twice"):
            export_membership(api, 3)
        assert len(sandbox.requests_to(r"/download$")) == 2
        assert len(exports.download_authorizations) == 2

        tries = []                                     # the first link expires, the second works
        original = exports.download

        def first_expired(export_id):
            exports.url_ttl = -1 if not tries else 900
            tries.append(export_id)
            return original(export_id)
        exports.download = first_expired
        with client(sandbox) as api:
            assert len(export_membership(api, 3)) == 27
        assert len(tries) == 2


def test_unknown_segment_is_refused_and_the_file_host_refuses_forged_links():
    import requests
    with Sandbox(workspace(), api_key=KEY, rate_limit=None) as sandbox:
        with client(sandbox) as api, pytest.raises(CustomerIOError, match="400"):
            export_membership(api, 99)
        assert requests.get(f"{sandbox.url}/_files/AAAA", timeout=5).status_code == 403


CSV = "ID,Email,cio_id,plan\n1,a@x.com,c1,gold\n,b@x.com,c2,\n3,,c3,\"x,y\"\n"


@pytest.mark.parametrize("data", [
    CSV.encode(), gzip.compress(CSV.encode()), ("\ufeff" + CSV).encode(),
    b'{"id":"1","email":"a@x.com","cio_id":"c1"}\n{"id":null,"email":"b@x.com","cio_id":"c2"}\n'
    b'{"id":"3","email":"","cio_id":"c3","attributes":{}}\n',
    json.dumps([{"id": 1, "email": "a@x.com", "cio_id": "c1"}, {"email": "b@x.com", "cio_id": "c2"},
                {"customer_id": "3", "cio_id": "c3"}]).encode(),
    json.dumps({"customers": [{"id": "1", "email": "a@x.com", "cio_id": "c1"}, {"email": "b@x.com", "cio_id": "c2"},
                              {"id": "3", "cio_id": "c3"}]}).encode(),
], ids=["csv", "csv.gz", "csv-bom", "jsonl", "json-array", "json-wrapped"])
def test_every_plausible_file_form_reads_the_same(data):
    members = as_lists(parse_export(data, 3))
    assert members.ids == ["1", None, "3"]
    assert members.emails == ["a@x.com", "b@x.com", None]
    assert members.cio_ids == ["c1", "c2", "c3"]


@pytest.mark.parametrize("form", ["csv", "csv.gz", "jsonl"])
def test_a_big_file_is_read_in_batches_with_the_same_members(form):
    """Files are read a batch at a time (so a staged membership never holds one whole); the
    members, their order and "000417"-style ids are the same however small the batches."""
    people = [(f"{i:06d}" if i % 4 else "", f"P{i}@x.com" if i % 3 else "", f"c{i}") for i in range(5000)]
    if form == "jsonl":
        data = "".join(json.dumps({"id": i or None, "email": e or None, "cio_id": c}) + "\n" for i, e, c in people).encode()
    else:
        data = ("id,email,cio_id\n" + "".join(f"{i},{e},{c}\n" for i, e, c in people)).encode()
        data = gzip.compress(data) if form == "csv.gz" else data
    batched = MemoryMembership(3)
    read_export(io.BytesIO(data), batched, csv_bytes=4096, json_lines=700)
    assert len(batched._chunks) > 5
    whole = parse_export(data, 3)
    assert len(whole._chunks) == 1 and len(batched) == len(whole) == 5000
    expected = ([i or None for i, _, _ in people], [e or None for _, e, _ in people], [c for _, _, c in people])
    batched, whole = as_lists(batched), as_lists(whole)
    assert (batched.ids, batched.emails, batched.cio_ids) == (whole.ids, whole.emails, whole.cio_ids) == expected


def test_a_file_without_identifier_columns_is_an_error():
    with pytest.raises(CustomerIOError, match="no id, email or cio_id column"):
        parse_export(b"name,plan\nx,y\n")


CONFIG = """
[database]
url = "{db}"
[customerio]
base_url = "{api}"
app_api_key = "{key}"
membership = "auto"
export_above = {above}
[diagnosis]
enabled = false
[[segments]]
name = "big"
customerio_segment_id = 3
sql = "SELECT id FROM people"
"""


def test_an_export_goes_into_the_shop_database_with_the_diff_there(any_db_url, tmp_path):
    """membership = "export" with diff = "database": the file's batches are staged in the shop
    database as they are read; the numbers are the paged in-memory run's."""
    from sqlalchemy import create_engine, text
    setup = create_engine(any_db_url)
    with setup.begin() as conn:
        conn.execute(text("CREATE TABLE people (id VARCHAR(10))"))
        conn.execute(text("INSERT INTO people VALUES (:i)"), [{"i": str(i)} for i in range(1, 30)])
    setup.dispose()
    with Sandbox(workspace(), api_key=KEY, rate_limit=None) as sandbox:
        config = parse_config(CONFIG.format(db=any_db_url, api=sandbox.url, key=KEY, above=10), tmp_path / "config.toml")
        as_of = datetime(2026, 11, 28, tzinfo=timezone.utc)
        pushed = run_audit(replace(config, diff="database", customerio=replace(config.customerio, membership="export")),
                           as_of=as_of)
        assert len(sandbox.requests_to(r"^/v1/exports/customers$")) == 1
        paged = run_audit(replace(config, customerio=replace(config.customerio, membership="pages")), as_of=as_of)
    mine, theirs = pushed.segments[0], paged.segments[0]
    assert mine.error is None
    # members: i in 1..40 unless i % 3 == 0 (27); no id where i % 7 == 0 (7, 14, 28, 35: keyless, extra);
    # the shop has 1..29: 17 of them are members, 12 missing; extra 31, 32, 34, 37, 38, 40 and the keyless
    fields = ("truth_count", "customerio_count", "matched", "missing_in_customerio", "extra_in_customerio",
              "keyless_profiles")
    assert [getattr(mine, f) for f in fields] == [getattr(theirs, f) for f in fields] == [29, 27, 17, 12, 10, 4]


@pytest.mark.parametrize("above", [10, 1000])
def test_auto_exports_only_segments_above_the_size(tmp_path, above):
    import sqlite3
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (id TEXT)")
        conn.executemany("INSERT INTO people VALUES (?)", [(str(i),) for i in range(1, 30)])
    with Sandbox(workspace(), api_key=KEY, rate_limit=None) as sandbox:
        sandbox.endpoints.exports.ready_after = 1
        config = parse_config(CONFIG.format(db=f"sqlite:///{db}", api=sandbox.url, key=KEY, above=above),
                              tmp_path / "config.toml")
        run = run_audit(config, as_of=datetime(2026, 11, 28, tzinfo=timezone.utc),
                        client=CustomerIOClient(api_key=KEY, base_url=sandbox.url, sleep=lambda s: None))
        exported = bool(sandbox.requests_to(r"^/v1/exports/customers$"))
        again = run_audit(replace(config, customerio=replace(config.customerio, membership="pages")),
                          as_of=datetime(2026, 11, 28, tzinfo=timezone.utc))
    assert exported == (above == 10)
    mine, paged = run.segments[0], again.segments[0]
    assert mine.error is None
    assert (mine.truth_count, mine.customerio_count, mine.missing_in_customerio, mine.extra_in_customerio) == \
        (paged.truth_count, paged.customerio_count, paged.missing_in_customerio, paged.extra_in_customerio)
