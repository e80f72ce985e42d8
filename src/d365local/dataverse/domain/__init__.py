"""Dataverse's rules and use cases: security, records, callers, service protection. No storage, no web framework."""
