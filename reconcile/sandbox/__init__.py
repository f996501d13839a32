"""A stand-in Customer.io App API and Track API, served over real HTTP on loopback.

Tests and the demo talk to it exactly as production talks to Customer.io, so the client is
exercised through HTTP (paging, limits, errors, retries), not through mocks of itself::

    with Sandbox(Workspace.from_dict(data), api_key="k") as sandbox:
        sandbox.inject("status", status=503, path=r"/membership$")
        CustomerIOClient(api_key="k", base_url=sandbox.url).segment_membership(12)

Where the real API is UNCONFIRMED (how the last page ends, whether ``Retry-After`` is sent) the
sandbox is configurable and the tests cover each form. It imports nothing from the rest of
``reconcile``: a stand-in that shared the code under test could agree with its bugs.

:mod:`.workspace` holds the data (and :mod:`.conditions` how its data-driven segments follow
their people, :mod:`.activities` each profile's activity log), :mod:`.api` what the App API
endpoints answer (with :mod:`.exports` and :mod:`.activities`), :mod:`.track` the Track API's
writes, :mod:`.faults` the bad days a test plans, :mod:`.server` the HTTP side and
:func:`serve`, the loop both command lines block in.
"""

from .activities import ActivityLog
from .api import PageTokens
from .faults import FAULT_KINDS, Fault, FaultPlan
from .server import RequestRecord, Sandbox, serve
from .workspace import Person, SegmentData, Workspace

__all__ = ["Sandbox", "FaultPlan", "Fault", "RequestRecord", "PageTokens", "FAULT_KINDS",
           "Workspace", "Person", "SegmentData", "ActivityLog", "serve"]
