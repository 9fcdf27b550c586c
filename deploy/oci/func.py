"""OCI Functions entry point (fdk). `func.yaml` points at this file's `handler`.

The function runs with its resource principal: set `inventory.oci.auth: resource_principal` in the config and give
the function's dynamic group read access to the tenancy's networking (see the deployment notes). Invocations from
OCI Resource Scheduler are synchronous, hence at most 300 s; the agent budgets its time from the call's deadline.
"""

import fdk  # noqa: F401  (the fdk runtime loads this module and calls `handler`)

from agent.handlers.oci import handler

__all__ = ["handler"]
