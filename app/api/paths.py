"""The API's path prefix, in a leaf module: the routers import it without importing the app
factory (which imports the routers)."""

API_PREFIX = "/api/v1"
"""Every path under it needs a bearer token."""

__all__ = ["API_PREFIX"]
