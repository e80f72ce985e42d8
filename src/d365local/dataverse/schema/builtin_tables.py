"""The built-in tables every organization has, with realistic columns, types, option sets and lookups.

A subset of each real table's columns: the ones integrations use most. Names, types, lengths and option values
follow Microsoft's Dataverse table/entity reference on learn.microsoft.com.
"""

from __future__ import annotations

from d365local.dataverse.schema.metadata import AttributeDefinition as A
from d365local.dataverse.schema.metadata import AttributeType as T
from d365local.dataverse.schema.metadata import Catalog, EntityDefinition, KeyDefinition, Option

ACTIVE_INACTIVE = (Option(0, "Active"), Option(1, "Inactive"))
ACTIVE_INACTIVE_STATUS = (Option(1, "Active"), Option(2, "Inactive"))
INDUSTRIES = (
    "Accounting",
    "Agriculture and Non-petrol Natural Resource Extraction",
    "Broadcasting Printing and Publishing",
    "Brokers",
    "Building Supply Retail",
    "Business Services",
    "Consulting",
    "Consumer Services",
    "Design, Direction and Creative Management",
    "Distributors, Dispatchers and Processors",
    "Doctor's Offices and Clinics",
    "Durable Manufacturing",
    "Eating and Drinking Places",
    "Entertainment Retail",
    "Equipment Rental and Leasing",
    "Financial",
    "Food and Tobacco Processing",
    "Inbound Capital Intensive Processing",
    "Inbound Repair and Services",
    "Insurance",
    "Legal Services",
    "Non-Durable Merchandise Retail",
    "Outbound Consumer Service",
    "Petrochemical Extraction and Distribution",
    "Service Retail",
    "SIG Affiliations",
    "Social Services",
    "Special Outbound Trade Contractors",
    "Specialty Realty",
    "Transportation",
    "Utility Creation and Distribution",
    "Vehicle Retail",
    "Wholesale",
)
INDUSTRY_OPTIONS = tuple(Option(value, label) for value, label in enumerate(INDUSTRIES, 1))
"""account.industrycode's options, values 1 to 33."""


def _id(name: str, display: str) -> A:
    return A(name, T.UNIQUEIDENTIFIER, display, is_primary_id=True, writable=True)


def _name(name: str, display: str, length: int) -> A:
    return A(name, T.STRING, display, max_length=length, is_primary_name=True)


def _text(name: str, display: str, length: int) -> A:
    return A(name, T.STRING, display, max_length=length)


def _memo(name: str, display: str, length: int = 2000) -> A:
    return A(name, T.MEMO, display, max_length=length)


def _lookup(name: str, display: str, *targets: str) -> A:
    return A(name, T.LOOKUP, display, targets=targets)


def _money(name: str, display: str, low: float = -922337203685477.0, high: float = 922337203685477.0) -> A:
    return A(name, T.MONEY, display, min_value=low, max_value=high, precision=2)


def _int(name: str, display: str, low: int = -2147483648, high: int = 2147483647) -> A:
    return A(name, T.INTEGER, display, min_value=low, max_value=high)


def _system(*, owned: bool = True) -> tuple[A, ...]:
    """Columns the server maintains on every table."""
    columns: tuple[A, ...] = (
        A("createdon", T.DATETIME, "Created On", writable=False),
        A("modifiedon", T.DATETIME, "Modified On", writable=False),
        A("createdby", T.LOOKUP, "Created By", targets=("systemuser",), writable=False),
        A("modifiedby", T.LOOKUP, "Modified By", targets=("systemuser",), writable=False),
        # Microsoft labels it "Version number" on the tables that are not user-owned.
        A("versionnumber", T.BIGINT, "Version Number" if owned else "Version number", writable=False),
    )
    if owned:
        columns += (
            A("ownerid", T.OWNER, "Owner", targets=("systemuser", "team")),
            A("owningbusinessunit", T.LOOKUP, "Owning Business Unit", targets=("businessunit",), writable=False),
        )
    return columns


def _state(status_options: tuple[Option, ...] = ACTIVE_INACTIVE_STATUS) -> tuple[A, ...]:
    return (
        A("statecode", T.STATE, "Status", options=ACTIVE_INACTIVE),
        A("statuscode", T.STATUS, "Status Reason", options=status_options),
    )


ACCOUNT = EntityDefinition(
    "account", "accounts", "accountid", "name", 1, "Account", "Accounts",
    (
        _id("accountid", "Account"),
        _name("name", "Account Name", 160),
        _text("accountnumber", "Account Number", 20),
        _text("telephone1", "Main Phone", 50),
        _text("emailaddress1", "Email", 100),
        _text("websiteurl", "Website", 200),
        _text("address1_city", "Address 1: City", 80),
        _text("address1_country", "Address 1: Country/Region", 80),
        _memo("description", "Description"),
        _money("revenue", "Annual Revenue", 0, 100000000000000),
        _int("numberofemployees", "Number of Employees", 0, 1000000000),
        A("creditonhold", T.BOOLEAN, "Credit Hold", options=(Option(0, "No"), Option(1, "Yes"))),
        A("industrycode", T.PICKLIST, "Industry", options=INDUSTRY_OPTIONS),
        A("customertypecode", T.PICKLIST, "Relationship Type", options=(
            Option(1, "Competitor"), Option(2, "Consultant"), Option(3, "Customer"), Option(4, "Investor"),
            Option(5, "Partner"), Option(6, "Influencer"), Option(7, "Press"), Option(8, "Prospect"),
            Option(9, "Reseller"), Option(10, "Supplier"), Option(11, "Vendor"), Option(12, "Other"),
        )),
        _lookup("primarycontactid", "Primary Contact", "contact"),
        _lookup("parentaccountid", "Parent Account", "account"),
        *_state(),
        *_system(),
    ),
    keys=(KeyDefinition("AccountNumberKey", ("accountnumber",), "Account Number"),),
)  # fmt: skip

CONTACT = EntityDefinition(
    "contact", "contacts", "contactid", "fullname", 2, "Contact", "Contacts",
    (
        _id("contactid", "Contact"),
        A("fullname", T.STRING, "Full Name", max_length=160, is_primary_name=True, writable=False),
        _text("firstname", "First Name", 50),
        _text("lastname", "Last Name", 50),
        _text("jobtitle", "Job Title", 100),
        _text("emailaddress1", "Email", 100),
        _text("telephone1", "Business Phone", 50),
        _text("mobilephone", "Mobile Phone", 50),
        _text("address1_city", "Address 1: City", 80),
        A("birthdate", T.DATETIME, "Birthday", date_only=True),
        A("gendercode", T.PICKLIST, "Gender", options=(Option(1, "Male"), Option(2, "Female"))),
        _memo("description", "Description"),
        A("parentcustomerid", T.CUSTOMER, "Company Name", targets=("account", "contact")),
        *_state(),
        *_system(),
    ),
)  # fmt: skip

LEAD = EntityDefinition(
    "lead", "leads", "leadid", "fullname", 4, "Lead", "Leads",
    (
        _id("leadid", "Lead"),
        A("fullname", T.STRING, "Name", max_length=160, is_primary_name=True, writable=False),
        _text("subject", "Topic", 300),
        _text("firstname", "First Name", 50),
        _text("lastname", "Last Name", 50),
        _text("companyname", "Company Name", 100),
        _text("emailaddress1", "Email", 100),
        _text("telephone1", "Business Phone", 50),
        _money("estimatedvalue", "Est. Value (deprecated)", 0, 1000000000),
        A("leadqualitycode", T.PICKLIST, "Rating", options=(Option(1, "Hot"), Option(2, "Warm"), Option(3, "Cold"))),
        A("leadsourcecode", T.PICKLIST, "Lead Source", options=(
            Option(1, "Advertisement"), Option(2, "Employee Referral"), Option(3, "External Referral"),
            Option(4, "Partner"), Option(5, "Public Relations"), Option(6, "Seminar"), Option(7, "Trade Show"),
            Option(8, "Web"), Option(9, "Word of Mouth"), Option(10, "Other"),
        )),
        _lookup("parentaccountid", "Parent Account for lead", "account"),
        _lookup("parentcontactid", "Parent Contact for lead", "contact"),
        A("statecode", T.STATE, "Status", options=(
            Option(0, "Open"), Option(1, "Qualified"), Option(2, "Disqualified"),
        )),
        A("statuscode", T.STATUS, "Status Reason", options=(
            Option(1, "New"), Option(2, "Contacted"), Option(3, "Qualified"), Option(4, "Lost"),
            Option(5, "Cannot Contact"), Option(6, "No Longer Interested"), Option(7, "Canceled"),
        )),
        *_system(),
    ),
)  # fmt: skip

OPPORTUNITY = EntityDefinition(
    "opportunity", "opportunities", "opportunityid", "name", 3, "Opportunity", "Opportunities",
    (
        _id("opportunityid", "Opportunity"),
        _name("name", "Topic", 300),
        _money("estimatedvalue", "Est. revenue", -1000000000000, 1000000000000),
        A("estimatedclosedate", T.DATETIME, "Est. close date", date_only=True),
        _int("closeprobability", "Probability", 0, 100),
        _memo("description", "Description"),
        _lookup("parentaccountid", "Account", "account"),
        _lookup("parentcontactid", "Contact", "contact"),
        A("statecode", T.STATE, "Status", options=(Option(0, "Open"), Option(1, "Won"), Option(2, "Lost"))),
        A("statuscode", T.STATUS, "Status Reason", options=(
            Option(1, "In Progress"), Option(2, "On Hold"), Option(3, "Won"), Option(4, "Canceled"),
            Option(5, "Out-Sold"),
        )),
        *_system(),
    ),
)  # fmt: skip

TASK = EntityDefinition(
    "task", "tasks", "activityid", "subject", 4212, "Task", "Tasks",
    (
        _id("activityid", "Task"),
        _name("subject", "Subject", 200),
        _memo("description", "Description"),
        A("scheduledend", T.DATETIME, "Due Date"),
        _int("percentcomplete", "Percent Complete", 0, 100),
        A("prioritycode", T.PICKLIST, "Priority", options=(Option(0, "Low"), Option(1, "Normal"), Option(2, "High"))),
        A("regardingobjectid", T.LOOKUP, "Regarding", targets=("account", "contact", "lead", "opportunity")),
        A("statecode", T.STATE, "Activity Status", options=(
            Option(0, "Open"), Option(1, "Completed"), Option(2, "Canceled"),
        )),
        A("statuscode", T.STATUS, "Status Reason", options=(
            Option(2, "Not Started"), Option(3, "In Progress"), Option(4, "Waiting on someone else"),
            Option(5, "Completed"), Option(6, "Canceled"), Option(7, "Deferred"),
        )),
        *_system(),
    ),
    is_activity=True,
)  # fmt: skip

SYSTEMUSER = EntityDefinition(
    "systemuser", "systemusers", "systemuserid", "fullname", 8, "User", "Users",
    (
        _id("systemuserid", "User"),
        A("fullname", T.STRING, "Full Name", max_length=200, is_primary_name=True),
        _text("firstname", "First Name", 64),
        _text("lastname", "Last Name", 64),
        _text("domainname", "User Name", 1024),
        _text("internalemailaddress", "Primary Email", 100),
        A("applicationid", T.UNIQUEIDENTIFIER, "Application ID"),
        A("azureactivedirectoryobjectid", T.UNIQUEIDENTIFIER, "Azure AD Object ID", writable=False),
        A("accessmode", T.PICKLIST, "Access Mode", options=(
            Option(0, "Read-Write"), Option(1, "Administrative"), Option(2, "Read"), Option(3, "Support User"),
            Option(4, "Non-interactive"), Option(5, "Delegated Admin"),
        )),
        A("isdisabled", T.BOOLEAN, "Status", options=(Option(0, "Enabled"), Option(1, "Disabled"))),
        A("islicensed", T.BOOLEAN, "User Licensed", options=(Option(0, "No"), Option(1, "Yes"))),
        A("businessunitid", T.LOOKUP, "Business Unit", targets=("businessunit",), required=True),
        *_system(owned=False),
    ),
    ownership="BusinessOwned",
    privilege_table="User",
    schema_name="SystemUser",
)  # fmt: skip

BUSINESSUNIT = EntityDefinition(
    "businessunit", "businessunits", "businessunitid", "name", 10, "Business Unit", "Business Units",
    (
        _id("businessunitid", "Business Unit"),
        _name("name", "Name", 160),
        _lookup("parentbusinessunitid", "Parent Business", "businessunit"),
        *_system(owned=False),
    ),
    ownership="BusinessOwned",
    privilege_table="BusinessUnit",
    schema_name="BusinessUnit",
)  # fmt: skip

ROLE = EntityDefinition(
    "role", "roles", "roleid", "name", 1036, "Security Role", "Security Roles",
    (
        _id("roleid", "Role"),
        _name("name", "Name", 100),
        A("businessunitid", T.LOOKUP, "Business Unit", targets=("businessunit",), required=True),
        *_system(owned=False),
    ),
    ownership="BusinessOwned",
)  # fmt: skip

TEAM = EntityDefinition(
    "team", "teams", "teamid", "name", 9, "Team", "Teams",
    (
        _id("teamid", "Team"),
        _name("name", "Team Name", 160),
        A("teamtype", T.PICKLIST, "Team Type", options=(
            Option(0, "Owner"), Option(1, "Access"), Option(2, "AAD Security Group"), Option(3, "AAD Office Group"),
        )),
        A("azureactivedirectoryobjectid", T.UNIQUEIDENTIFIER, "Azure AD Object Id for a group"),
        A("businessunitid", T.LOOKUP, "Business Unit", targets=("businessunit",), required=True),
        *_system(owned=False),
    ),
    ownership="BusinessOwned",
)  # fmt: skip

BUILTIN_TABLES = (ACCOUNT, CONTACT, LEAD, OPPORTUNITY, TASK, SYSTEMUSER, BUSINESSUNIT, ROLE, TEAM)
BUILTIN_CATALOG = Catalog(BUILTIN_TABLES)
