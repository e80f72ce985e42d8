"""Web API requests to use cases and back: one module per kind of resource, framework-free."""
