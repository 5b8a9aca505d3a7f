"""Settings: every backend is chosen by a URL, never by code changes.

Precedence, highest first: keyword arguments to :func:`mlake.connect`, environment variables
(``MLAKE_HOME``, ``MLAKE_CATALOG_URL``, ...), a ``mlake.toml`` in the lake's home, defaults. The
defaults give the embedded lake: a SQLite catalog and a warehouse folder, both under the home.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlake.errors import ConfigError

_SECRET_KEYS = {"token", "s3_secret_access_key"}


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class Settings(BaseSettings):
    """Where the lake lives and which backends it uses."""

    model_config = SettingsConfigDict(env_prefix="MLAKE_", extra="ignore")

    home: Path = Field(default=Path(".mlake"), description="Folder holding the embedded lake's files.")
    catalog_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the control-plane database (Iceberg catalog and mlake metadata). "
        "Default: a SQLite file in the home. For teams: postgresql://user@host/db.",
    )
    warehouse: str | None = Field(
        default=None,
        description="Where table data files go: a folder or file:// URI (default: <home>/warehouse), "
        "or s3://bucket/prefix.",
    )
    online_url: str | None = Field(
        default=None,
        description="Online feature store: sqlite:///path (default, in the home) or redis://host:port/db.",
    )
    s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint for an s3:// warehouse (MinIO, Ceph ...); None = AWS."
    )
    s3_region: str | None = Field(default=None, description="Region of the s3:// warehouse bucket.")
    s3_access_key_id: str | None = Field(default=None, description="S3 key id (else the AWS_* environment).")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret (environment only, never in mlake.toml)."
    )
    stream_url: str | None = Field(default=None, description="Stream backend for streaming ingestion.")
    engine: str = Field(default="duckdb", description="Compute engine: duckdb (default) or ray.")
    user: str = Field(default_factory=_default_user, description="Who writes: recorded in history and lineage.")
    memory_limit: str = Field(
        default="4GB", description="DuckDB memory limit for queries and ingestion; spills to disk beyond it."
    )
    ingest_memory_limit: str = Field(
        default="1GB", description="DuckDB memory limit while ingesting; keeps peak memory bounded."
    )
    threads: int = Field(default_factory=lambda: os.cpu_count() or 2, description="DuckDB worker threads.")
    commit_retries: int = Field(default=30, description="How often a writer retries a conflicting commit.")
    ingest_allowed: list[str] = Field(
        default_factory=list,
        description="Sources a principal (not a superuser) may ingest from: folders and URL or database-URL "
        "prefixes. Files uploaded to the server are always allowed; anything else is denied by default.",
    )

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: Any) -> Path:
        return Path(os.path.expanduser(str(value))).absolute()

    def resolved_catalog_url(self) -> str:
        """The catalog URL with the driver SQLAlchemy needs (``postgresql://`` means psycopg 3)."""
        url = self.catalog_url or f"sqlite:///{self.home / 'catalog.db'}"
        scheme = url.split("://", 1)[0]
        if scheme in ("postgresql", "postgres"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        elif scheme == "sqlite" and "timeout=" not in url:
            # Several processes commit to one SQLite catalog; wait for the lock rather than fail.
            url += ("&" if "?" in url else "?") + "timeout=60"
        elif scheme not in ("sqlite", "postgresql+psycopg", "postgresql+psycopg2", "mysql+pymysql"):
            raise ConfigError(
                f"Unsupported catalog URL scheme {scheme!r} in {url!r}",
                hint="use sqlite:///path/to/catalog.db or postgresql://user@host:port/database",
            )
        return url

    def resolved_warehouse(self) -> str:
        """The warehouse as a URI pyiceberg understands (``file://`` for folders)."""
        wh = self.warehouse or str(self.home / "warehouse")
        parsed = urlparse(wh)
        if parsed.scheme in ("", "file"):
            path = Path(parsed.path if parsed.scheme else wh).expanduser().absolute()
            return f"file://{path}"
        if parsed.scheme in ("s3", "s3a", "gs", "abfs"):
            return wh
        raise ConfigError(f"Unsupported warehouse {wh!r}", hint="use a folder path, file:///path or s3://bucket/prefix")

    def local_warehouse_path(self) -> Path | None:
        """The warehouse folder when it is on this machine's disk, else None (object storage)."""
        uri = self.resolved_warehouse()
        return Path(uri[len("file://") :]) if uri.startswith("file://") else None

    def s3_options(self) -> dict[str, str]:
        """pyiceberg FileIO properties for an s3:// warehouse (empty for local ones)."""
        import os

        opts: dict[str, str] = {}
        if self.s3_endpoint:
            opts["s3.endpoint"] = self.s3_endpoint
        region = self.s3_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            opts["s3.region"] = region
        key = self.s3_access_key_id or os.environ.get("AWS_ACCESS_KEY_ID")
        secret = (
            self.s3_secret_access_key.get_secret_value()
            if self.s3_secret_access_key
            else os.environ.get("AWS_SECRET_ACCESS_KEY")
        )
        if key and secret:
            opts["s3.access-key-id"] = key
            opts["s3.secret-access-key"] = secret
        return opts

    def resolved_online_url(self) -> str:
        return self.online_url or f"sqlite:///{self.home / 'online.db'}"

    def redacted(self) -> dict[str, Any]:
        """Settings safe to print: passwords in URLs are hidden."""
        out: dict[str, Any] = {}
        for key, value in self.model_dump().items():
            if isinstance(value, str) and "://" in value and "@" in value:
                scheme, rest = value.split("://", 1)
                creds, host = rest.rsplit("@", 1)
                user = creds.split(":", 1)[0]
                value = f"{scheme}://{user}:***@{host}" if ":" in creds else value
            if key in _SECRET_KEYS and value:
                value = "***"
            out[key] = str(value) if isinstance(value, Path) else value
        return out


def load_settings(home: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build settings from arguments, environment and the home's ``mlake.toml``.

    The TOML file is read only for keys that neither an argument nor an environment variable sets, so
    that a one-off ``MLAKE_CATALOG_URL=...`` always wins over what is written down.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if home is not None:
        given["home"] = home
    unknown = set(given) - set(Settings.model_fields)
    if unknown:
        raise ConfigError(
            f"Unknown setting(s): {', '.join(sorted(unknown))}",
            hint=f"known settings are {', '.join(sorted(Settings.model_fields))}",
        )
    base = Settings(**given)
    toml_path = base.home / "mlake.toml"
    if toml_path.exists():
        try:
            from_file = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path} is not valid TOML: {exc}", hint="fix or remove the file") from exc
        section = from_file.get("mlake", from_file)
        secrets = sorted(k for k in section if k in _SECRET_KEYS)
        if secrets:
            raise ConfigError(
                f"{toml_path} holds secret setting(s) {', '.join(secrets)}",
                hint="secrets come from the environment (MLAKE_S3_SECRET_ACCESS_KEY ...), not from files",
            )
        env_set = {k for k in Settings.model_fields if f"MLAKE_{k.upper()}" in os.environ}
        merged = {k: v for k, v in section.items() if k in Settings.model_fields and k not in env_set}
        merged.update(given)
        base = Settings(**merged)
    return base
