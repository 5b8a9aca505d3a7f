"""``mlake.connect``: the one way in, to an embedded lake or to a server.

It lives apart from :mod:`mlake.lake` so that the core never imports the remote client (and the client
never the core's engine): the two meet only here, at the top.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from mlake.api import (
        DashboardsAPI,
        FeatureStoreAPI,
        GovernanceAPI,
        LabelingAPI,
        LakeAPI,
        QualityAPI,
        ResultAPI,
        StreamsAPI,
        TableAPI,
    )
    from mlake.lake import Lake


@overload
def connect(home: Path | None = None, **overrides: Any) -> Lake: ...


@overload
def connect(home: str, **overrides: Any) -> LakeAPI: ...


def connect(home: str | Path | None = None, **overrides: Any) -> Lake | LakeAPI:
    """Open (creating if needed) the lake at ``home`` (default ``$MLAKE_HOME`` or ``./.mlake``).

    Overrides are settings (``catalog_url=``, ``warehouse=``, ``engine=`` ...; unknown names and values
    are refused); a URL as ``home`` (``http://host:port``) connects to an mlake server instead and returns
    a :class:`~mlake.client.remote.RemoteLake` (``token=`` or ``$MLAKE_TOKEN`` authenticates;
    ``transport=`` or ``client=`` choose how httpx reaches it). Both are a :class:`mlake.api.LakeAPI`:
    type against it to write code that runs on either.
    """
    if isinstance(home, str) and home.startswith(("http://", "https://")):
        from mlake.client.remote import RemoteLake

        return RemoteLake(home, **overrides)
    from mlake.lake import Lake
    from mlake.settings import load_settings

    return Lake(load_settings(home, **overrides))


if TYPE_CHECKING:
    # The type checker proves here that both implementations satisfy the public protocols of
    # :mod:`mlake.api` (``tests/test_api_parity.py`` checks names and signatures at run time).
    from mlake.client.features import RemoteFeatureStore
    from mlake.client.remote import RemoteLake
    from mlake.client.tables import RemoteResult, RemoteTable
    from mlake.features.store import FeatureStore
    from mlake.governance.service import Governance, GuardedGovernance
    from mlake.quality.api import Quality
    from mlake.results import Result
    from mlake.tables.table import Table

    def _local_conforms(
        lake: Lake, table: Table, result: Result, features: FeatureStore, quality: Quality, gov: Governance
    ) -> tuple[LakeAPI, TableAPI, ResultAPI, FeatureStoreAPI, QualityAPI, GovernanceAPI]:
        return lake, table, result, features, quality, gov

    def _remote_conforms(
        lake: RemoteLake, table: RemoteTable, result: RemoteResult
    ) -> tuple[LakeAPI, TableAPI, ResultAPI, FeatureStoreAPI, QualityAPI, GovernanceAPI]:
        return lake, table, result, lake.features, lake.quality, lake.governance

    def _guarded_conforms(gov: GuardedGovernance, remote: RemoteFeatureStore) -> tuple[GovernanceAPI, FeatureStoreAPI]:
        return gov, remote

    def _areas_conform(
        lake: Lake, remote: RemoteLake
    ) -> tuple[StreamsAPI, LabelingAPI, DashboardsAPI, StreamsAPI, LabelingAPI, DashboardsAPI]:
        return lake.streams, lake.labeling, lake.dashboards, remote.streams, remote.labeling, remote.dashboards
