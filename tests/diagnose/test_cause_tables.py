"""The causes are written down three times, and the three agree (issue 14, points 3 and 8): the
README's table, the table in ``reconcile.diagnose.causes``' docstring, and the words the report
shows (``report.summary.CAUSE_TEXT``); consent is critical only when Customer.io would message
the person."""

from __future__ import annotations

import re
from pathlib import Path

from reconcile.diagnose import causes
from reconcile.report.summary import CAUSE_TEXT

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def readme_rows() -> dict[str, str]:
    table = README[README.index("The first cause that fits wins"):README.index("**Timing noise")]
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z_]+)` \|.*$", table, re.M)}


def docstring_causes() -> list[str]:
    return re.findall(r"^([a-z_]+) {2,}", causes.__doc__, re.M)[1:]     # after the header row


def test_the_three_lists_of_causes_agree_in_order():
    order = list(readme_rows())
    assert order == docstring_causes()
    assert set(order) == set(CAUSE_TEXT)
    assert order.index("id_format") == order.index("idless_profile") + 1 == order.index("duplicate_profile") - 1


def test_consent_is_critical_only_when_customerio_would_message_the_person():
    row = readme_rows()["consent_mismatch"]
    assert "**critical** only when Customer.io would message the person: in the segment and not unsubscribed" in row
    docstring_row = causes.__doc__.split("consent_mismatch")[1].split("timestamp_unit")[0]
    assert "in the" in docstring_row and "not" in docstring_row and "unsubscribed" in docstring_row
