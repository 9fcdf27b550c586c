"""Serverless entry points: platform event → Config → `pipeline.run` → JSON summary (see `common.execute`).

One module per platform (`aws_lambda`, `gcp`, `azure`, `oci`); none imports a cloud SDK at module level, so a
function's cold start pays only for the inventory sources its config enables.
"""
