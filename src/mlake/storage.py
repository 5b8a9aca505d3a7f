"""Object storage for DuckDB: lets DuckDB read ``s3://`` data files of an object-store warehouse.

DuckDB's own S3 support lives in its httpfs extension, which is downloaded at run time — not possible
on machines without internet access. DuckDB can instead read through any fsspec filesystem, so an
``s3fs`` filesystem configured from the lake's settings is registered on each connection that reads
the warehouse. (pyiceberg writes and plans through its own pyarrow FileIO with the same settings.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlake.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

    from mlake.settings import Settings


def warehouse_is_remote(settings: Settings) -> bool:
    return settings.local_warehouse_path() is None


def s3_filesystem(settings: Settings) -> Any:
    """An s3fs filesystem for the warehouse (the ``s3`` extra provides s3fs)."""
    try:
        import s3fs
    except ImportError as exc:
        raise ConfigError("An s3:// warehouse needs the s3fs package", hint="pip install 'mlake[s3]'") from exc
    opts = settings.s3_options()
    client: dict[str, Any] = {}
    if "s3.region" in opts:
        client["region_name"] = opts["s3.region"]
    return s3fs.S3FileSystem(
        key=opts.get("s3.access-key-id"),
        secret=opts.get("s3.secret-access-key"),
        endpoint_url=opts.get("s3.endpoint"),
        client_kwargs=client,
        use_listings_cache=False,
    )


def attach_object_store(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Register the warehouse's filesystem on ``con``; True when DuckDB can now read ``s3://`` paths."""
    if not warehouse_is_remote(settings):
        return False
    if not settings.resolved_warehouse().startswith(("s3://", "s3a://")):
        return False
    if not con.filesystem_is_registered("s3"):
        con.register_filesystem(s3_filesystem(settings))
    return True
