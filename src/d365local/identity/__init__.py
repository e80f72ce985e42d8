"""The Entra ID–compatible side: directory model, token service, discovery and signing keys."""
