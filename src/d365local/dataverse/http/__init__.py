"""The Starlette adapter of the Web API, and the HTTP adapter for another authority's signing keys."""
