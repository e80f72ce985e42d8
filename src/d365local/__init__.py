"""d365local: a self-hosted, offline, wire-compatible Entra ID token service and Dataverse Web API."""

__version__ = "0.1.0"
