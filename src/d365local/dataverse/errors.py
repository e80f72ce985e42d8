"""The Dataverse error catalogue: every Web API error d365local answers, defined once
(docs/reference/dataverse.md, "Errors").

Each entry carries the hex code Dataverse sends in ``{"error":{"code","message"}}``, the HTTP status from
Dataverse's own code → status map, and the message template. ``http`` renders :class:`DataverseError`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataverseCode:
    code: str
    status: int
    template: str
    hint: str = ""
    """One line naming the setup step that fixes it (shown by the CLI, never sent on the wire)."""

    def message(self, **params: object) -> str:
        return self.template.format(**params)


USER_NOT_MEMBER = DataverseCode(
    "0x80072560",
    403,
    "The user is not a member of the organization.",
    "Create the application user: `d365local appuser create --org O --app <client id> --role 'System Administrator'`.",
)
USER_DISABLED = DataverseCode(
    "0x80040225",
    403,
    "The user with SystemUserId={user_id} in OrganizationContext={org_id} is disabled. Disabled users cannot access "
    "the system. Consider enabling this user. Also, users are disabled if they don't have a license assigned to them.",
    "Enable the application user: `d365local appuser enable --org O --app <client id>`.",
)
NO_ROLES = DataverseCode(
    "0x80042f09",
    403,
    "SecLib::RetrievePrivilegeForUser failed - no roles are assigned to user. Returned hr = -2147209463, "
    "User: {user_id}",
    "Give the application user a security role: `d365local role assign --org O --app <client id> --role NAME`.",
)
PRIVILEGE_DENIED = DataverseCode(
    "0x80040220",
    403,
    "Principal user (Id={user_id}, type=8, roleCount={role_count}, privilegeCount={privilege_count}, accessMode=4), "
    "is missing {privilege} privilege (Id={privilege_id}) on OTC={otc} for entity '{entity}'. context.Caller={user_id}",
    "Add the privilege to one of the user's roles, or assign a role that has it (`d365local role list --org O`).",
)
RECORD_NOT_FOUND = DataverseCode("0x80040217", 404, "Entity '{entity}' With Id = {id} Does Not Exist")
SEGMENT_NOT_FOUND = DataverseCode("0x8006088a", 404, "Resource not found for the segment '{segment}'.")
NOT_SUPPORTED = DataverseCode("0x8006088a", 501, "{feature} is not supported by d365local yet.")
NOT_SUPPORTED_METADATA = DataverseCode("0x8006088a", 501, "{detail}")
QUERY_INVALID = DataverseCode("0x80060888", 400, "{detail}")
PROPERTY_NOT_FOUND = DataverseCode(
    "0x80060888", 400, "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'."
)
PAYLOAD_INVALID = DataverseCode(
    "0x80048d19",
    400,
    "Error identified in Payload provided by the user for Entity :'{entity_set}', For more information on this error "
    "please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : "
    "Microsoft.OData.ODataException: {detail}",
)
INVALID_ARGUMENT = DataverseCode("0x80040203", 400, "{detail}")
VALUE_TOO_LONG = DataverseCode(
    "0x80044331",
    400,
    "The length of the '{attribute}' attribute of the '{entity}' entity exceeded the maximum allowed length of "
    "'{max_length}'.",
)
DUPLICATE_RECORD = DataverseCode("0x80040237", 412, "A record with matching key values already exists.")
VERSION_MISMATCH = DataverseCode(
    "0x80060882", 412, "The version of the existing record doesn't match the RowVersion property provided."
)
DUPLICATE_KEY = DataverseCode(
    "0x80060892",
    412,
    "A record that has the attribute values {values} already exists. The entity key {key} requires that this set of "
    "attributes contains unique values. Select unique values and try again.",
)
KEY_NOT_DEFINED = DataverseCode(
    "0x80060890", 400, "The specified key attributes are not a defined key for the {entity} entity"
)
REQUEST_TOO_LARGE = DataverseCode("0x8004418a", 413, "The request body exceeds the limit of {limit} bytes.")
METHOD_NOT_ALLOWED = DataverseCode("0x80040227", 405, "The HTTP method '{method}' is not allowed on '{segment}'.")
UNEXPECTED = DataverseCode(
    "0x80040216", 500, "An unexpected error occurred. Request {request_id} — the d365local server log has the details."
)
TOO_MANY_REQUESTS = DataverseCode(
    "0x80072322", 429, "Number of requests exceeded the limit of {limit} over time window of {window} seconds."
)
TOO_MUCH_TIME = DataverseCode(
    "0x80072321",
    429,
    "Combined execution time of incoming requests exceeded limit of {limit:,} milliseconds over time window of "
    "{window} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
)
TOO_MANY_CONCURRENT = DataverseCode("0x80072326", 429, "Number of concurrent requests exceeded the limit of {limit}.")


# Metadata writes (docs/reference/metadata-writes.md). Dataverse's error list gives no statuses for these: every one is
# a validation failure, answered 400. Where the list gives no message template, the message is d365local's ("{detail}").
DUPLICATE_ENTITY_NAME = DataverseCode(
    "0x8004700b", 400, "An entity with the specified name already exists. Please specify a unique name."
)
INVALID_DISPLAY_NAME = DataverseCode("0x8004700c", 400, "The specified display name is not valid")
INVALID_PRIMARY_FIELD_TYPE = DataverseCode("0x8004700e", 400, "Primary UI Attribute has to be of type String")
DUPLICATE_PRIMARY_NAME = DataverseCode(
    "0x8004701E",
    400,
    "The new {new} attribute is set as the primary name attribute for the {entity} entity. The {entity} entity "
    "already has the {existing} attribute set as the primary name attribute. An entity can only have one primary name "
    "attribute.",
)
DUPLICATE_ATTRIBUTE_SCHEMA_NAME = DataverseCode("0x80047013", 400, "{detail}")
INVALID_CUSTOM_ATTRIBUTE_TYPE = DataverseCode(
    "0x80090411",
    400,
    "Cannot create custom attribute '{attribute}' of Entity '{entity}' because the type '{type}' is not valid for "
    "custom attribute.",
)
ATTRIBUTE_MAX_LENGTH_OUT_OF_RANGE = DataverseCode(
    "0x80090479",
    400,
    "The provided maximum length {max_length} of column {column} is out of range. Custom maximum length values must be "
    "between {low} and {high}.",
)
INVALID_ATTRIBUTE_FORMAT = DataverseCode(
    "0x80090483", 400, "The format {format} is not valid for the {type} type column {column} of table {entity}."
)
INVALID_STRING_FORMAT = DataverseCode(
    "0x80090485", 400, "The format {format} is not valid for the String type column {column} of table {entity}."
)
DECIMAL_OUT_OF_RANGE = DataverseCode("0x8009049C", 400, "{detail}")
DOUBLE_OUT_OF_RANGE = DataverseCode("0x8009049D", 400, "{detail}")
INVALID_DATETIME_BEHAVIOR = DataverseCode("0x80048d17", 400, "{detail}")
INVALID_AUTO_NUMBER_TYPE = DataverseCode("0x8009049A", 400, "{detail}")
INVALID_CASCADE_LINK_TYPE = DataverseCode(
    "0x80048204", 400, "The cascade link type is not valid for the cascade action."
)
INVALID_STATE_STATUS = DataverseCode(
    "0x80048408", 400, "{status} is not a valid status code for state code {state} on {entity} with Id {id}."
)
INVALID_ENTITY_SET_NAME = DataverseCode(
    "0x8006089B", 400, "An entity with the specified entity set name {name} already exists. Specify a unique name."
)
KEY_NAME_EXISTS = DataverseCode(
    "0x80060893", 400, "An entity key with the name {name} already exists on entity {entity}."
)
KEY_COLUMNS_EXIST = DataverseCode(
    "0x80060894", 400, "An entity key with the selected attributes already exists on entity."
)
CANNOT_DELETE_DUE_TO_ASSOCIATION = DataverseCode(
    "0x80040227",
    405,
    "The object you tried to delete is associated with another object and cannot be deleted. {detail}",
)
CANNOT_DELETE_IN_USE = DataverseCode(
    "0x8004F01F",
    400,
    "The {kind}({name}) component cannot be deleted because it is referenced by {count} other components. For a list "
    "of referenced components, use the RetrieveDependenciesForDeleteRequest.",
)


class DataverseError(Exception):
    """A Web API failure answered as ``{"error":{"code","message"}}`` with the catalogue's status."""

    def __init__(self, code: DataverseCode, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(code.message(**params))

    @property
    def message(self) -> str:
        return str(self)


class UnauthenticatedError(Exception):
    """No valid bearer token: answered 401 with ``WWW-Authenticate`` naming the authority (never a body code)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
