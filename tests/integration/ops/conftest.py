"""Order sync's fixtures (sandbox, moto-backed stores, the jobs' environment) for ops tests."""

from tests.integration.orders.conftest import (  # noqa: F401 - fixtures
    demo,
    dynamo_sync,
    jobs_env,
    sandbox,
)
