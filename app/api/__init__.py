"""The REST API: one more front end (FastAPI) over the same services as the pages and the CLI.

``create_app()`` builds the app; ``workbench api`` serves it with uvicorn. Every route runs
an operation of :mod:`app.operations` (its own pydantic request model) or a read-only
service function, with the caller's :class:`~app.services.auth.Actor` from a bearer token.
"""
