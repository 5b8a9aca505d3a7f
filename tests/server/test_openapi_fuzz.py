"""Schemathesis against the published OpenAPI document: generated requests never cause a server error."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from tests.governed_lake import Governed, build_governed_lake

from mlake.server.app import create_app
from mlake.server.settings import ServerSettings


@pytest.fixture(scope="module")
def fuzz_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    g = build_governed_lake(tmp_path_factory.mktemp("fuzz") / "lake")
    try:
        yield g
    finally:
        g.lake.close()


# More examples per operation for a deeper search by hand: MLAKE_FUZZ_EXAMPLES=200 pytest tests/server/test_openapi_fuzz.py
EXAMPLES = int(os.environ.get("MLAKE_FUZZ_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def api_schema(fuzz_lake: Governed) -> schemathesis.schemas.BaseSchema:
    app = create_app(fuzz_lake.lake, ServerSettings(auth=True, statement_timeout=5))
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@pytest.mark.slow
def test_no_server_errors(api_schema: schemathesis.schemas.BaseSchema, fuzz_lake: Governed) -> None:
    """Every operation, with generated (valid and invalid) inputs, answers without a 5xx.

    Hypothesis runs per operation here instead of through schemathesis' pytest plugin, whose
    fixture support does not work with the pytest this project uses.
    """
    headers = {"Authorization": f"Bearer {fuzz_lake.admin_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
