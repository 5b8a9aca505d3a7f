"""``mlake.connect``: the one way in, to an embedded lake or to a server.

It lives apart from :mod:`mlake.lake` so that the core never imports the remote client (and the client
never the core's engine): the two meet only here, at the top.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake
    from mlake.lake import Lake


@overload
def connect(home: Path | None = None, **overrides: Any) -> Lake: ...


@overload
def connect(home: str, **overrides: Any) -> Lake | RemoteLake: ...


def connect(home: str | Path | None = None, **overrides: Any) -> Lake | RemoteLake:
    """Open (creating if needed) the lake at ``home`` (default ``$MLAKE_HOME`` or ``./.mlake``).

    Overrides are settings (``catalog_url=``, ``warehouse=``, ``engine=`` ...; unknown names and values
    are refused); a URL as ``home`` (``http://host:port``) connects to an mlake server instead and returns
    a :class:`~mlake.client.remote.RemoteLake` (``token=`` or ``$MLAKE_TOKEN`` authenticates;
    ``transport=`` or ``client=`` choose how httpx reaches it).
    """
    if isinstance(home, str) and home.startswith(("http://", "https://")):
        from mlake.client.remote import RemoteLake

        return RemoteLake(home, **overrides)
    from mlake.lake import Lake
    from mlake.settings import load_settings

    return Lake(load_settings(home, **overrides))
