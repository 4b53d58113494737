"""The HTTP service of screening: a thin FastAPI layer over the same engine the CLI uses.

It holds no rules and no thresholds; ``create_app()`` in :mod:`service.main` builds the app.
"""
