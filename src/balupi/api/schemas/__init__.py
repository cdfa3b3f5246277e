"""Response models of the routes, one module per route family.

They document the answers in the OpenAPI schema and filter what a handler returns to the
fields declared. Where a route is BaluHost-compatible the fields mirror BaluHost's exactly
(docs/compat/nas-api.md, docs/compat/clients.md): a model never drops or renames a field a
client reads today, and the tests compare the bodies.
"""
