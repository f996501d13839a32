"""What a run leaves on disk, and how it reads: the report stage.

    summary.py   what a run means in words and numbers (the verdict line, causes, formats)
    html.py      the report as one self-contained HTML page, and as an email body
    files.py     results.json, discrepancies.csv and report.html, written atomically
    history.py   the runs kept under reports/: trends, new since last run, retention
    templates/   the Jinja templates html.py renders
"""

from .files import results_json, write_outputs
from .history import History, history_key
from .html import EMAIL_BODY_LIMIT, body_size, render_email_body, render_html

__all__ = ["write_outputs", "results_json", "History", "history_key", "render_html", "render_email_body",
           "body_size", "EMAIL_BODY_LIMIT"]
