"""``python -m reconcile.sandbox --workspace FILE.json``: serve one workspace until Ctrl-C.

The serving loop is :func:`~reconcile.sandbox.serve`, shared with ``reconcile sandbox``; this
module only reads its arguments and prints its own banner.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .server import Sandbox, serve
from .workspace import Workspace


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reconcile.sandbox",
                                     description="Serve a stand-in Customer.io App API and Track API on loopback.")
    parser.add_argument("--workspace", type=Path, required=True, help="a workspace JSON file")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key", default="sandbox-key", help="the bearer key clients must send")
    parser.add_argument("--site-id", default="sandbox-site", help="the Track API's site id (Basic auth user)")
    parser.add_argument("--track-api-key", default="sandbox-track-key", help="the Track API's key (Basic auth password)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C; 0 when stopped, 2 when the workspace file cannot be read."""
    args = build_parser().parse_args(argv)
    try:
        workspace = Workspace.load(args.workspace)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot read workspace {args.workspace}: {exc}", file=sys.stderr)
        return 2

    def banner(sandbox: Sandbox) -> None:
        print(f"sandbox Customer.io App API and Track API at {sandbox.url} ({len(workspace):,} people, "
              f"{len(workspace.segments)} segments); Ctrl-C stops it", flush=True)

    serve(workspace, api_key=args.api_key, host=args.host, port=args.port, on_ready=banner, site_id=args.site_id,
          track_api_key=args.track_api_key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
