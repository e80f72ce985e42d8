"""Tests for the binder in d365local.dataverse.domain.binding: names → columns, literals → column types, errors."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from d365local.dataverse import errors
from d365local.dataverse.domain.binding.binder import MAX_CONDITIONS, bind_filter, bind_orderby
from d365local.dataverse.domain.binding.tree import (
    BoundAll,
    BoundAnd,
    BoundAny,
    BoundBetween,
    BoundCase,
    BoundColumn,
    BoundCompare,
    BoundConstant,
    BoundCurrentBusinessUnit,
    BoundCurrentUser,
    BoundDayWindow,
    BoundExpression,
    BoundIn,
    BoundIsNull,
    BoundLastDays,
    BoundLike,
    BoundLiteral,
    BoundNextDays,
    BoundNot,
    BoundOnDate,
    BoundOr,
    BoundOrder,
    BoundRelated,
    BoundRelationship,
    LikeKind,
)
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.filter_ast import Comparison
from d365local.dataverse.odata.filter_parser import parse_filter
from d365local.dataverse.odata.query_options import OrderBy
from d365local.dataverse.schema.builtin_tables import builtin_catalog

ACCOUNT = builtin_catalog().by_logical_name("account")
CONTACT = builtin_catalog().by_logical_name("contact")
assert ACCOUNT is not None
assert CONTACT is not None

GUID = uuid.UUID("5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f60")
EQ = Comparison.EQ


def bind(text: str) -> BoundExpression:
    return bind_filter(parse_filter(text), ACCOUNT, builtin_catalog())


def column(name: str, entity: object = ACCOUNT) -> BoundColumn:
    assert entity in (ACCOUNT, CONTACT)
    table = ACCOUNT if entity is ACCOUNT else CONTACT
    attribute = table.attribute(name)
    assert attribute is not None
    return BoundColumn(table, attribute)


def failure(text: str) -> DataverseError:
    with pytest.raises(DataverseError) as caught:
        bind(text)
    return caught.value


def not_found(name: str, entity: str = "account") -> str:
    return f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'."


# -- names ------------------------------------------------------------------------------------------------------
def test_a_column_by_its_logical_name() -> None:
    assert bind("name eq 'Contoso'") == BoundCompare(EQ, column("name"), BoundLiteral("Contoso"), case_insensitive=True)


def test_a_lookup_by_its_value_property() -> None:
    bound = bind(f"_primarycontactid_value eq {GUID}")
    assert bound == BoundCompare(EQ, column("primarycontactid"), BoundLiteral(str(GUID)), case_insensitive=False)
    assert isinstance(bound, BoundCompare)
    assert isinstance(bound.left, BoundColumn)
    assert bound.left.name == "primarycontactid"


def test_the_primary_id_is_its_tables_key_column() -> None:
    bound = bind(f"accountid eq {GUID}")
    assert isinstance(bound, BoundCompare)
    assert isinstance(bound.left, BoundColumn)
    assert bound.left.name == "accountid"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("nope eq 1", "nope"),
        ("primarycontactid eq null", "primarycontactid"),  # a lookup is _x_value, never its bare name
        ("_name_value eq null", "_name_value"),  # _x_value of a column that is not a lookup
        ("nosuch/name eq 'x'", "nosuch"),
        ("name/name eq 'x'", "name"),
        ("nosuch_nav/any()", "nosuch_nav"),
        ("Microsoft.Dynamics.CRM.In(PropertyName='nope',PropertyValues=[\"1\"])", "nope"),
        ("contains(nope,'x')", "nope"),
        ("tolower(nope) eq 'x'", "nope"),
        ("year(nope) eq 2020", "nope"),
        ("name eq 'a' or nope eq 'b'", "nope"),
        ("nope eq 'a' or nope eq 'b'", "nope"),
    ],
)
def test_unknown_names_are_property_not_found(text: str, name: str) -> None:
    error = failure(text)
    assert error.code is errors.PROPERTY_NOT_FOUND
    assert error.message == not_found(name)


def test_a_long_unknown_name_is_cut_to_100_characters() -> None:
    assert failure(f"{'x' * 300} eq 1").message == not_found("x" * 100)


def test_a_boolean_column_alone_is_a_condition() -> None:
    assert bind("creditonhold") == BoundCompare(EQ, column("creditonhold"), BoundLiteral(True), case_insensitive=False)


@pytest.mark.parametrize("text", ["name", "'x'", "1", "tolower(name)", "null"])
def test_what_is_not_a_condition_is_refused(text: str) -> None:
    error = failure(text)
    assert error.code is errors.QUERY_INVALID
    assert error.message == "The $filter expression must be a condition (a comparison, function or and/or/not)."


# -- navigation -------------------------------------------------------------------------------------------------
def test_a_lookups_target_column_is_bound_on_the_target_table() -> None:
    assert bind("primarycontactid/fullname eq 'Ann Smith'") == BoundRelated(
        column("primarycontactid"),
        CONTACT,
        BoundCompare(EQ, column("fullname", CONTACT), BoundLiteral("Ann Smith"), case_insensitive=True),
    )


def test_a_navigation_on_the_right_is_mirrored() -> None:
    assert bind("'x' eq primarycontactid/lastname") == bind("primarycontactid/lastname eq 'x'")


def test_the_other_side_of_a_navigation_comparison_is_bound_on_the_target_table() -> None:
    bound = bind("primarycontactid/lastname eq firstname")
    assert isinstance(bound, BoundRelated)
    assert isinstance(bound.condition, BoundCompare)
    assert bound.condition.right == column("firstname", CONTACT)
    error = failure("primarycontactid/lastname eq nosuch")
    assert error.message == not_found("nosuch", "contact")


def test_a_lookup_with_several_targets_cannot_be_navigated() -> None:
    with pytest.raises(DataverseError) as caught:
        bind_filter(parse_filter("parentcustomerid/name eq 'x'"), CONTACT, builtin_catalog())
    assert caught.value.message == not_found("parentcustomerid", "contact")


@pytest.mark.parametrize(
    "text", ["primarycontactid/parentcustomerid/name eq 'x'", "tolower(primarycontactid/x) eq 'y'"]
)
def test_navigation_is_one_hop_in_a_comparison(text: str) -> None:
    error = failure(text)
    assert error.code is errors.QUERY_INVALID
    assert error.message.startswith("Navigation in a comparison operand is only supported as nav/column = value")


# -- lambdas ----------------------------------------------------------------------------------------------------
CONTACTS_OF_ACCOUNT = BoundRelationship(ACCOUNT, CONTACT, "parentcustomerid")


def test_any_binds_its_predicate_on_the_child_table() -> None:
    assert bind("contact_customer_accounts/any(c: c/lastname eq 'Child')") == BoundAny(
        CONTACTS_OF_ACCOUNT, BoundCompare(EQ, column("lastname", CONTACT), BoundLiteral("Child"), case_insensitive=True)
    )


def test_all_and_the_bare_any() -> None:
    assert bind("contact_customer_accounts/any()") == BoundAny(CONTACTS_OF_ACCOUNT, None)
    bound = bind("contact_customer_accounts/all(c: c/lastname ne null and contains(c/firstname,'a'))")
    assert bound == BoundAll(
        CONTACTS_OF_ACCOUNT,
        BoundAnd(
            (
                BoundIsNull(column("lastname", CONTACT), negated=True),
                BoundLike(column("firstname", CONTACT), LikeKind.CONTAINS, "a"),
            )
        ),
    )


def test_a_lambdas_unknown_column_is_named_on_the_child_table() -> None:
    error = failure("contact_customer_accounts/any(c: c/nosuch eq 1)")
    assert error.message == not_found("nosuch", "contact")


def test_a_lambda_over_a_path_is_refused() -> None:
    error = failure("primarycontactid/contact_customer_accounts/any()")
    assert error.message == "any/all work on a collection-valued navigation property of the table."


# -- literals ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("numberofemployees eq 5", 5),
        ("numberofemployees eq '5'", 5),
        ("numberofemployees eq 5.0", 5),
        ("revenue eq 5", Decimal(5)),
        ("revenue eq 1.5", Decimal("1.5")),
        ("creditonhold eq true", True),
        ("createdon eq 2024-05-06", dt.datetime(2024, 5, 6)),
        ("createdon eq 2024-05-06T10:00:00+02:00", dt.datetime(2024, 5, 6, 8)),
        (f"_primarycontactid_value eq '{str(GUID).upper()}'", str(GUID)),
        ("statecode eq 1", 1),
    ],
)
def test_literals_take_their_columns_type(text: str, value: object) -> None:
    bound = bind(text)
    assert isinstance(bound, BoundCompare)
    assert bound.right == BoundLiteral(value)  # type: ignore[arg-type]
    assert type(bound.right.value) is type(value)  # type: ignore[union-attr]


def test_a_date_only_column_takes_a_date() -> None:
    bound = bind_filter(parse_filter("birthdate eq 2024-05-06T23:00:00Z"), CONTACT, builtin_catalog())
    assert isinstance(bound, BoundCompare)
    assert bound.right == BoundLiteral(dt.date(2024, 5, 6))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "numberofemployees eq 'x'",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and "
            "'Edm.String' for the column 'numberofemployees'.",
        ),
        (
            "name eq 5",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and "
            "'Edm.Int32' for the column 'name'.",
        ),
        (
            "_primarycontactid_value eq 'not-a-guid'",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and "
            "'Edm.String' for the column 'primarycontactid'.",
        ),
        (
            "numberofemployees eq 99999999999",
            "The value 99999999999 is out of range for the column 'numberofemployees'.",
        ),
        ("name eq 'a\x00b'", "A text value for 'name' contains characters that cannot be stored."),
        ("name gt null", "null can only be compared with eq or ne."),
        ("name eq length(name)", "Only columns, literals, tolower and toupper can be compared."),
        ("contains(numberofemployees,'1')", "contains works on text columns."),
        ("startswith(name,1)", "startswith takes a column and a string."),
    ],
)
def test_literal_and_operand_errors(text: str, message: str) -> None:
    error = failure(text)
    assert error.code is errors.QUERY_INVALID
    assert error.message == message


def test_literals_compared_with_each_other_are_constants() -> None:
    assert bind("1 eq 1") == BoundConstant(True)
    assert bind("null ne 'x'") == BoundConstant(True)
    assert bind("1 lt 'x'") == BoundConstant(False)
    assert bind("true") == BoundConstant(True)


def test_a_literal_on_the_left_is_mirrored() -> None:
    assert bind("5 lt numberofemployees") == BoundCompare(
        Comparison.GT, column("numberofemployees"), BoundLiteral(5), case_insensitive=False
    )


def test_case_functions_and_nulls() -> None:
    assert bind("tolower(name) eq 'x'") == BoundCompare(
        EQ, BoundCase("tolower", column("name")), BoundLiteral("x"), case_insensitive=True
    )
    assert bind("name eq null") == BoundIsNull(column("name"))
    assert bind("not (name ne null)") == BoundNot(BoundIsNull(column("name"), negated=True))


# -- and/or -----------------------------------------------------------------------------------------------------
def test_an_or_of_equalities_on_one_column_is_one_in() -> None:
    assert bind("numberofemployees eq 1 or numberofemployees eq '2'") == BoundIn(column("numberofemployees"), (1, 2))
    assert bind("name eq 'a' or name eq 'B'") == BoundIn(column("name"), ("a", "B"), case_insensitive=True)
    assert isinstance(bind("numberofemployees eq 1 or name eq 'x'"), BoundOr)


def test_chains_are_flat_and_limited() -> None:
    bound = bind(" and ".join(f"numberofemployees ne {i}" for i in range(MAX_CONDITIONS)))
    assert isinstance(bound, BoundAnd)
    assert len(bound.operands) == MAX_CONDITIONS
    error = failure(" or ".join(f"name ne 'n{i}'" for i in range(MAX_CONDITIONS + 1)))
    assert error.message == f"The $filter has more than {MAX_CONDITIONS} conditions joined by 'or'."


# -- query functions --------------------------------------------------------------------------------------------
def query_function(name: str, parameters: str) -> str:
    return f"Microsoft.Dynamics.CRM.{name}(PropertyName={parameters})"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            query_function("In", '\'numberofemployees\',PropertyValues=["1","2"]'),
            BoundIn(column("numberofemployees"), (1, 2)),
        ),
        (
            query_function("NotIn", "'name',PropertyValues=[\"a\"]"),
            BoundIn(column("name"), ("a",), negated=True, case_insensitive=True),
        ),
        (
            query_function("NotBetween", '\'numberofemployees\',PropertyValues=["1","9"]'),
            BoundBetween(column("numberofemployees"), 1, 9, negated=True),
        ),
        (query_function("Yesterday", "'createdon'"), BoundDayWindow(column("createdon"), -1, 0)),
        (query_function("LastXDays", "'createdon',PropertyValue=7"), BoundLastDays(column("createdon"), 7)),
        (query_function("nextxdays", "'createdon',PropertyValue='3'"), BoundNextDays(column("createdon"), 3)),
        (
            query_function("OnOrAfter", "'createdon',PropertyValue='2024-05-06'"),
            BoundOnDate(column("createdon"), dt.date(2024, 5, 6), "onorafter"),
        ),
        (query_function("EqualUserId", "'_ownerid_value'"), BoundCurrentUser(column("ownerid"))),
        (query_function("NotEqualUserId", "'_ownerid_value'"), BoundCurrentUser(column("ownerid"), negated=True)),
        (
            query_function("EqualBusinessId", "'_owningbusinessunit_value'"),
            BoundCurrentBusinessUnit(column("owningbusinessunit")),
        ),
    ],
)
def test_query_functions(text: str, expected: BoundExpression) -> None:
    assert bind(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (query_function("Between", "'numberofemployees',PropertyValues=[\"1\"]"), "Between needs two PropertyValues."),
        (query_function("In", "'name'"), "Microsoft.Dynamics.CRM.In needs PropertyValues=[…]."),
        (
            query_function("LastXDays", "'createdon',PropertyValue=99999999"),
            "Microsoft.Dynamics.CRM.LastXDays needs a whole-number PropertyValue.",
        ),
        ("Microsoft.Dynamics.CRM.Today(PropertyName=5)", "Microsoft.Dynamics.CRM.Today needs PropertyName='<column>'."),
        (
            query_function("On", "'createdon',PropertyValue='soon'"),
            "A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and "
            "'Edm.String' for the column 'date'.",
        ),
    ],
)
def test_query_function_errors(text: str, message: str) -> None:
    assert failure(text).message == message


def test_an_unknown_query_function_is_not_supported_once_its_column_is_known() -> None:
    error = failure(query_function("ContainValues", "'name',PropertyValues=[\"a\"]"))
    assert error.code is errors.NOT_SUPPORTED
    assert "Microsoft.Dynamics.CRM.ContainValues" in error.message
    assert failure(query_function("ContainValues", "'nope',PropertyValues=[\"a\"]")).code is errors.PROPERTY_NOT_FOUND


# -- $orderby ---------------------------------------------------------------------------------------------------
def test_orderby_binds_columns_and_lookups() -> None:
    bound = bind_orderby([OrderBy(("name",), descending=True), OrderBy(("_primarycontactid_value",))], ACCOUNT)
    assert bound == (BoundOrder(column("name"), descending=True), BoundOrder(column("primarycontactid")))


def test_orderby_errors() -> None:
    with pytest.raises(DataverseError) as caught:
        bind_orderby([OrderBy(("nope",))], ACCOUNT)
    assert caught.value.message == not_found("nope")
    with pytest.raises(DataverseError) as caught:
        bind_orderby([OrderBy(("primarycontactid", "fullname"))], ACCOUNT)
    assert caught.value.message == "$orderby on a related table's column is not supported."


def test_an_unknown_query_function_is_a_bad_request_and_a_known_missing_one_not_supported() -> None:
    from d365local.dataverse.domain.binding.binder import bind_filter
    from d365local.dataverse.errors import DataverseError
    from d365local.dataverse.odata.filter_parser import parse_filter
    from d365local.dataverse.schema.builtin_tables import builtin_catalog

    account = builtin_catalog().by_logical_name("account")
    assert account is not None
    with pytest.raises(DataverseError) as unknown:
        bind_filter(parse_filter("Microsoft.Dynamics.CRM.U(PropertyName='name')"), account, builtin_catalog())
    assert (unknown.value.code.code, unknown.value.code.status) == ("0x80060888", 400)
    assert "An unknown function with name 'Microsoft.Dynamics.CRM.U' was found" in unknown.value.message
    with pytest.raises(DataverseError) as missing:
        bind_filter(
            parse_filter("Microsoft.Dynamics.CRM.ThisFiscalYear(PropertyName='createdon')"), account, builtin_catalog()
        )
    assert missing.value.code.status == 501
