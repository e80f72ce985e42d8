"""``credentials.env``: ``KEY=value`` lines (no quotes), mode 0600, written atomically.

After ``set -a; . .d365local/credentials.env`` azure-identity's EnvironmentCredential, the Dataverse SDK and
``d365local token/whoami/doctor`` find everything they need.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from d365local.data_directory import create_private_parent

FILE_NAME = "credentials.env"
KEYS = (
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
    "DATAVERSE_URL",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
)


def read_credentials(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def write_credentials(path: Path, values: Mapping[str, str]) -> None:
    """Write the known keys in their fixed order; the file is never readable by others, not even briefly."""
    lines = [f"{key}={values[key]}" for key in KEYS if values.get(key)]
    create_private_parent(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".credentials.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
