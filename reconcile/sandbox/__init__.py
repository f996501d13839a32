"""A stand-in Customer.io App API, served over real HTTP on loopback.

Tests and the demo talk to it exactly as production talks to Customer.io, so the client is
exercised through HTTP (paging, limits, errors, retries), not through mocks of itself::

    with Sandbox(Workspace.from_dict(data), api_key="k") as sandbox:
        sandbox.inject("status", status=503, path=r"/membership$")
        CustomerIOClient(api_key="k", base_url=sandbox.url).segment_membership(12)

:mod:`.workspace` holds the data, :mod:`.server` the HTTP side and the faults.
"""

from .server import FAULT_KINDS, Fault, FaultPlan, PageTokens, RequestRecord, Sandbox
from .workspace import Person, SegmentData, Workspace

__all__ = ["Sandbox", "FaultPlan", "Fault", "RequestRecord", "PageTokens", "FAULT_KINDS",
           "Workspace", "Person", "SegmentData"]
