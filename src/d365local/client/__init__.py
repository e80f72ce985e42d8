"""d365local's client library: client-credentials tokens done right, for d365local and the real Microsoft cloud.

Depends only on the wire (httpx, cryptography, PyJWT), never on server code.
"""

from d365local.client.async_token_provider import AsyncTokenProvider
from d365local.client.async_webapi import AsyncWebApiClient
from d365local.client.batch import Batch, BatchError, BatchOperation, BatchResult, ChangeSet
from d365local.client.credentials import ClientCertificate, ClientSecret
from d365local.client.errors import AuthenticationError, ClientError, DataverseApiError
from d365local.client.token_cache import FileTokenCache, MemoryTokenCache
from d365local.client.token_protocol import AccessToken, AccessTokenInfo, CachedToken
from d365local.client.token_provider import ENTRA_AUTHORITY, TokenProvider
from d365local.client.webapi import WebApiClient
from d365local.client.webapi_protocol import RetryNotice

__all__ = [
    "ENTRA_AUTHORITY",
    "AccessToken",
    "AccessTokenInfo",
    "AsyncTokenProvider",
    "AsyncWebApiClient",
    "AuthenticationError",
    "Batch",
    "BatchError",
    "BatchOperation",
    "BatchResult",
    "CachedToken",
    "ChangeSet",
    "ClientCertificate",
    "ClientError",
    "ClientSecret",
    "DataverseApiError",
    "FileTokenCache",
    "MemoryTokenCache",
    "RetryNotice",
    "TokenProvider",
    "WebApiClient",
]
