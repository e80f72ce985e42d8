"""The Dataverse side: a Dynamics 365 Web API (OData v4) that trusts tokens only through published signing keys."""
