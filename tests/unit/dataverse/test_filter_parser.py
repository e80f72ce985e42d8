"""Tests for the ``$filter`` parser in d365local.dataverse.odata.filter_parser."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from d365local.dataverse.odata.filter_ast import (
    And,
    Call,
    Compare,
    Comparison,
    Expression,
    FilterSyntaxError,
    Lambda,
    Literal,
    Not,
    Or,
    Property,
    QueryFunction,
)
from d365local.dataverse.odata.filter_parser import FUNCTIONS, MAX_DEPTH, MAX_LENGTH, parse_filter

GUID = uuid.UUID("5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f60")
IN = "Microsoft.Dynamics.CRM.In"
UTC = dt.UTC


def prop(*path: str) -> Property:
    return Property(path)


def lit(value: bool | int | Decimal | str | uuid.UUID | dt.date | dt.datetime | None) -> Literal:
    return Literal(value)


def eq(left: Expression, right: Expression) -> Compare:
    return Compare(Comparison.EQ, left, right)


def cmp(op: Comparison, left: Expression, right: Expression) -> Compare:
    return Compare(op, left, right)


def qf(name: str, *parameters: tuple[str, Literal | tuple[Literal, ...]]) -> QueryFunction:
    return QueryFunction(name, parameters)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


NAME_C = ("PropertyName", lit("c"))


def _shape(node: object) -> object:
    """``node`` as nested tuples that also record each literal's type and zone, since ``1 == True == Decimal(1)``."""
    if isinstance(node, Literal):
        zone = node.value.tzinfo if isinstance(node.value, dt.datetime) else None
        return ("Literal", type(node.value).__name__, node.value, zone)
    if isinstance(node, tuple):
        return tuple(_shape(item) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__, *(_shape(getattr(node, field.name)) for field in dataclasses.fields(node)))
    return node


def assert_parses(text: str, expected: Expression, aliases: dict[str, str] | None = None) -> None:
    actual = parse_filter(text, aliases=aliases)
    assert actual == expected
    assert _shape(actual) == _shape(expected)


def _syntax_error(text: str, aliases: dict[str, str] | None = None) -> FilterSyntaxError | None:
    try:
        parse_filter(text, aliases=aliases)
    except FilterSyntaxError as error:
        return error
    return None


# --- what parses, and to what ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        pytest.param("'Contoso'", lit("Contoso"), id="string"),
        pytest.param("'O''Brien'", lit("O'Brien"), id="doubled quote"),
        pytest.param("''", lit(""), id="empty string"),
        pytest.param("''''", lit("'"), id="just a quote"),
        pytest.param("'a and b eq (c)'", lit("a and b eq (c)"), id="keywords inside a string"),
        pytest.param("null", lit(None), id="null"),
        pytest.param("true", lit(True), id="true"),
        pytest.param("false", lit(False), id="false"),
        pytest.param("0", lit(0), id="zero"),
        pytest.param("-5", lit(-5), id="negative int"),
        pytest.param("+5", lit(5), id="explicit plus"),
        pytest.param("007", lit(7), id="leading zeros"),
        pytest.param("9223372036854775807", lit(9223372036854775807), id="int64 max"),
        pytest.param("-9223372036854775808", lit(-9223372036854775808), id="int64 min"),
        pytest.param("9223372036854775808", lit(Decimal("9223372036854775808")), id="beyond int64 is decimal"),
        pytest.param("1.5", lit(Decimal("1.5")), id="decimal"),
        pytest.param("-2.25", lit(Decimal("-2.25")), id="negative decimal"),
        pytest.param("1e3", lit(Decimal("1E+3")), id="exponent"),
        pytest.param("1.5E-2", lit(Decimal("0.015")), id="decimal with exponent"),
        pytest.param("5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f60", lit(GUID), id="guid"),
        pytest.param("5F6C2A4E-6BD3-4A1C-9F0A-1B2C3D4E5F60", lit(GUID), id="upper-case guid"),
        pytest.param("00000000-0000-0000-0000-000000000000", lit(uuid.UUID(int=0)), id="all-digit guid"),
        pytest.param("12345678-1234-1234-1234-123456789012", lit(uuid.UUID("12345678-1234-1234-1234-123456789012")), id="guid that starts like a date"),
        pytest.param("deadbeef-0000-0000-0000-000000000000", lit(uuid.UUID("deadbeef-0000-0000-0000-000000000000")), id="guid that starts like a name"),
        pytest.param(f"guid'{GUID}'", lit(GUID), id="old guid form"),
        pytest.param("2024-01-02", lit(dt.date(2024, 1, 2)), id="date"),
        pytest.param("2024-01-02T03:04:05Z", lit(utc(2024, 1, 2, 3, 4, 5)), id="datetime"),
        pytest.param("2024-01-02T03:04:05.123Z", lit(utc(2024, 1, 2, 3, 4, 5, 123000)), id="milliseconds"),
        pytest.param("2024-01-02T03:04:05.1234567Z", lit(utc(2024, 1, 2, 3, 4, 5, 123456)), id="ticks truncate"),
        pytest.param("2024-01-02T03:04:05+01:00", lit(utc(2024, 1, 2, 2, 4, 5)), id="positive offset"),
        pytest.param("2024-01-02T23:30:00-05:30", lit(utc(2024, 1, 3, 5, 0, 0)), id="negative offset crosses a day"),
        pytest.param("2024-01-02T03:04Z", lit(utc(2024, 1, 2, 3, 4)), id="no seconds"),
        pytest.param("2024-01-02T03:04:05", lit(utc(2024, 1, 2, 3, 4, 5)), id="no offset means UTC"),
        pytest.param("datetime'2024-01-02T03:04:05Z'", lit(utc(2024, 1, 2, 3, 4, 5)), id="old datetime form"),
        pytest.param("Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'", lit("UserOwned"), id="enum member"),
    ],
)  # fmt: skip
def test_literal(literal: str, value: Literal) -> None:
    assert_parses(f"name eq {literal}", eq(prop("name"), value))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("name", prop("name"), id="bare property"),
        pytest.param("true", lit(True), id="bare literal"),
        pytest.param("primarycontactid/fullname eq 'x'", eq(prop("primarycontactid", "fullname"), lit("x")), id="navigation path"),
        pytest.param("_parentaccountid_value eq null", eq(prop("_parentaccountid_value"), lit(None)), id="lookup value column"),
        pytest.param("firstname eq lastname", eq(prop("firstname"), prop("lastname")), id="column vs column"),
        pytest.param("a ne 1", cmp(Comparison.NE, prop("a"), lit(1)), id="ne"),
        pytest.param("a gt 1", cmp(Comparison.GT, prop("a"), lit(1)), id="gt"),
        pytest.param("a ge 1", cmp(Comparison.GE, prop("a"), lit(1)), id="ge"),
        pytest.param("a lt 1", cmp(Comparison.LT, prop("a"), lit(1)), id="lt"),
        pytest.param("a le 1", cmp(Comparison.LE, prop("a"), lit(1)), id="le"),
        pytest.param("  a\teq\r\n1  ", eq(prop("a"), lit(1)), id="whitespace"),
        pytest.param("((a eq 1))", eq(prop("a"), lit(1)), id="redundant parentheses"),
        pytest.param("a eq 'x'and b", And(eq(prop("a"), lit("x")), prop("b")), id="no space after a string"),
    ],
)  # fmt: skip
def test_expression(text: str, expected: Expression) -> None:
    assert_parses(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a eq 1 or b eq 2 and c eq 3", Or(eq(prop("a"), lit(1)), And(eq(prop("b"), lit(2)), eq(prop("c"), lit(3)))), id="and before or"),
        pytest.param("a and b or c", Or(And(prop("a"), prop("b")), prop("c")), id="and before or on the left"),
        pytest.param("a or b or c", Or(Or(prop("a"), prop("b")), prop("c")), id="or is left-associative"),
        pytest.param("a and b and c", And(And(prop("a"), prop("b")), prop("c")), id="and is left-associative"),
        pytest.param("(a or b) and c", And(Or(prop("a"), prop("b")), prop("c")), id="parentheses group"),
        pytest.param("not a eq 1", Not(eq(prop("a"), lit(1))), id="not takes the whole comparison"),
        pytest.param("not a and b", And(Not(prop("a")), prop("b")), id="not binds tighter than and"),
        pytest.param("not a or b", Or(Not(prop("a")), prop("b")), id="not binds tighter than or"),
        pytest.param("not not a", Not(Not(prop("a"))), id="double not"),
        pytest.param("not(a)", Not(prop("a")), id="not without a space"),
        pytest.param("not (a or b)", Not(Or(prop("a"), prop("b"))), id="not of a group"),
        pytest.param("a eq 1 eq true", eq(eq(prop("a"), lit(1)), lit(True)), id="comparisons chain to the left"),
    ],
)  # fmt: skip
def test_precedence(text: str, expected: Expression) -> None:
    assert_parses(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("contains(name, 'x')", Call("contains", (prop("name"), lit("x"))), id="contains"),
        pytest.param("startswith(name,'x')", Call("startswith", (prop("name"), lit("x"))), id="startswith"),
        pytest.param("endswith( name , 'x' )", Call("endswith", (prop("name"), lit("x"))), id="endswith with spaces"),
        pytest.param("tolower(name) eq 'x'", eq(Call("tolower", (prop("name"),)), lit("x")), id="tolower"),
        pytest.param("toupper(name) eq 'X'", eq(Call("toupper", (prop("name"),)), lit("X")), id="toupper"),
        pytest.param("trim(name) eq 'x'", eq(Call("trim", (prop("name"),)), lit("x")), id="trim"),
        pytest.param("length(name) gt 3", cmp(Comparison.GT, Call("length", (prop("name"),)), lit(3)), id="length"),
        pytest.param("indexof(name, 'x') eq 1", eq(Call("indexof", (prop("name"), lit("x"))), lit(1)), id="indexof"),
        pytest.param("substring(name, 1) eq 'x'", eq(Call("substring", (prop("name"), lit(1))), lit("x")), id="substring of 2"),
        pytest.param("substring(name, 1, 2) eq 'x'", eq(Call("substring", (prop("name"), lit(1), lit(2))), lit("x")), id="substring of 3"),
        pytest.param("year(createdon) eq 2024", eq(Call("year", (prop("createdon"),)), lit(2024)), id="year"),
        pytest.param("month(createdon) eq 1", eq(Call("month", (prop("createdon"),)), lit(1)), id="month"),
        pytest.param("day(createdon) eq 2", eq(Call("day", (prop("createdon"),)), lit(2)), id="day"),
        pytest.param("hour(createdon) eq 3", eq(Call("hour", (prop("createdon"),)), lit(3)), id="hour"),
        pytest.param("minute(createdon) eq 4", eq(Call("minute", (prop("createdon"),)), lit(4)), id="minute"),
        pytest.param("second(createdon) eq 5", eq(Call("second", (prop("createdon"),)), lit(5)), id="second"),
        pytest.param("date(createdon) eq 2024-01-02", eq(Call("date", (prop("createdon"),)), lit(dt.date(2024, 1, 2))), id="date"),
        pytest.param("createdon lt now()", cmp(Comparison.LT, prop("createdon"), Call("now", ())), id="now"),
        pytest.param("contains(tolower(name), 'x')", Call("contains", (Call("tolower", (prop("name"),)), lit("x"))), id="nested call"),
        pytest.param("not contains(name, 'x')", Not(Call("contains", (prop("name"), lit("x")))), id="negated call"),
    ],
)  # fmt: skip
def test_function_call(text: str, expected: Expression) -> None:
    assert_parses(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"{IN}(PropertyName='c',PropertyValues=['0','1'])", qf("In", NAME_C, ("PropertyValues", (lit("0"), lit("1")))), id="In, docs quotes"),
        pytest.param(f'{IN}(PropertyName=\'c\',PropertyValues=["0","1"])', qf("In", NAME_C, ("PropertyValues", (lit("0"), lit("1")))), id="In, SDK quotes"),
        pytest.param('Microsoft.Dynamics.CRM.NotIn(PropertyName=\'c\',PropertyValues=["a\\"b","\\u00e9"])', qf("NotIn", NAME_C, ("PropertyValues", (lit('a"b'), lit("é")))), id="NotIn, JSON escapes"),
        pytest.param('Microsoft.Dynamics.CRM.Between(PropertyName=\'c\',PropertyValues=["1","5"])', qf("Between", NAME_C, ("PropertyValues", (lit("1"), lit("5")))), id="Between"),
        pytest.param("Microsoft.Dynamics.CRM.Between(PropertyName='c',PropertyValues=[1,5])", qf("Between", NAME_C, ("PropertyValues", (lit(1), lit(5)))), id="Between, bare numbers"),
        pytest.param(f"{IN}(PropertyName='c',PropertyValues=[])", qf("In", NAME_C, ("PropertyValues", ())), id="empty list"),
        pytest.param(f"{IN}(PropertyName='c',PropertyValues=[null,true,'x'])", qf("In", NAME_C, ("PropertyValues", (lit(None), lit(True), lit("x")))), id="keyword literals in a list"),
        pytest.param("Microsoft.Dynamics.CRM.Today(PropertyName='createdon')", qf("Today", ("PropertyName", lit("createdon"))), id="Today"),
        pytest.param("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)", qf("LastXDays", ("PropertyName", lit("createdon")), ("PropertyValue", lit(7))), id="LastXDays"),
        pytest.param("Microsoft.Dynamics.CRM.On(PropertyName='x',PropertyValue='2024-01-01')", qf("On", ("PropertyName", lit("x")), ("PropertyValue", lit("2024-01-01"))), id="On"),
        pytest.param("Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')", qf("EqualUserId", ("PropertyName", lit("ownerid"))), id="EqualUserId"),
        pytest.param(f"Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue={GUID})", qf("Under", ("PropertyName", lit("accountid")), ("PropertyValue", lit(GUID))), id="Under, GUID value"),
        pytest.param("Microsoft.Dynamics.CRM.Whatever()", qf("Whatever"), id="any name, no parameters"),
        pytest.param(f"{IN} ( PropertyName = 'c' , PropertyValues = [ '0' , '1' ] )", qf("In", NAME_C, ("PropertyValues", (lit("0"), lit("1")))), id="whitespace everywhere"),
        pytest.param("a eq 1 and Microsoft.Dynamics.CRM.Today(PropertyName='x')", And(eq(prop("a"), lit(1)), qf("Today", ("PropertyName", lit("x")))), id="inside and"),
        pytest.param("not Microsoft.Dynamics.CRM.Today(PropertyName='x')", Not(qf("Today", ("PropertyName", lit("x")))), id="negated"),
    ],
)  # fmt: skip
def test_query_function(text: str, expected: Expression) -> None:
    assert_parses(text, expected)


def test_query_function_parameter_lookup() -> None:
    function = parse_filter(f"{IN}(PropertyName='c',PropertyValues=['0'])")

    assert isinstance(function, QueryFunction)
    assert function.parameter("PropertyValues") == (lit("0"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("contact_customer_accounts/any(c: c/fullname eq 'x')", Lambda(("contact_customer_accounts",), "any", "c", eq(prop("c", "fullname"), lit("x"))), id="any"),
        pytest.param("contact_customer_accounts/all(c:c/fullname eq 'x')", Lambda(("contact_customer_accounts",), "all", "c", eq(prop("c", "fullname"), lit("x"))), id="all"),
        pytest.param("nav/any()", Lambda(("nav",), "any", None, None), id="bare any"),
        pytest.param("nav/any( )", Lambda(("nav",), "any", None, None), id="bare any with a space"),
        pytest.param("a/b/any(x: x/c eq 1 and x/d eq 2)", Lambda(("a", "b"), "any", "x", And(eq(prop("x", "c"), lit(1)), eq(prop("x", "d"), lit(2)))), id="longer navigation and an and"),
        pytest.param("a/any(x: x/b/any(y: y/c eq x/d))", Lambda(("a",), "any", "x", Lambda(("x", "b"), "any", "y", eq(prop("y", "c"), prop("x", "d")))), id="nested"),
        pytest.param("not a/any()", Not(Lambda(("a",), "any", None, None)), id="negated"),
        pytest.param("a/any eq 1", eq(prop("a", "any"), lit(1)), id="any as a plain segment"),
    ],
)  # fmt: skip
def test_lambda(text: str, expected: Expression) -> None:
    assert_parses(text, expected)


@pytest.mark.parametrize(
    ("text", "aliases", "expected"),
    [
        pytest.param("name eq @p1", {"@p1": "'Contoso'"}, eq(prop("name"), lit("Contoso")), id="string"),
        pytest.param("revenue gt @p1", {"@p1": "1000"}, cmp(Comparison.GT, prop("revenue"), lit(1000)), id="number"),
        pytest.param("@p1 eq 'x'", {"@p1": "name"}, eq(prop("name"), lit("x")), id="property name"),
        pytest.param("contains(@p1,@p2)", {"@p1": "name", "@p2": "'x'"}, Call("contains", (prop("name"), lit("x"))), id="in a call"),
        pytest.param("name eq @p1", {"@p1": " null "}, eq(prop("name"), lit(None)), id="padded"),
        pytest.param(f"{IN}(PropertyName=@p1,PropertyValues=@p2)", {"@p1": "'c'", "@p2": '["0","1"]'}, qf("In", NAME_C, ("PropertyValues", (lit("0"), lit("1")))), id="query function parameters"),
    ],
)  # fmt: skip
def test_parameter_alias(text: str, aliases: dict[str, str], expected: Expression) -> None:
    assert_parses(text, expected, aliases)


# --- exactly what powerplatform-dataverse-client's filter builder emits (reference §A.5) ---------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("(statecode eq 0 and revenue gt 100)", And(eq(prop("statecode"), lit(0)), cmp(Comparison.GT, prop("revenue"), lit(100))), id="and"),
        pytest.param("(statecode eq 0 or statecode eq 1)", Or(eq(prop("statecode"), lit(0)), eq(prop("statecode"), lit(1))), id="or"),
        pytest.param("not (statecode eq 1)", Not(eq(prop("statecode"), lit(1))), id="not"),
        pytest.param("(statecode eq 0 or (statecode eq 1 and revenue gt 100000))", Or(eq(prop("statecode"), lit(0)), And(eq(prop("statecode"), lit(1)), cmp(Comparison.GT, prop("revenue"), lit(100000)))), id="composed"),
        pytest.param("(c ge 1 and c le 5)", And(cmp(Comparison.GE, prop("c"), lit(1)), cmp(Comparison.LE, prop("c"), lit(5))), id="between"),
        pytest.param("not ((c ge 1 and c le 5))", Not(And(cmp(Comparison.GE, prop("c"), lit(1)), cmp(Comparison.LE, prop("c"), lit(5)))), id="not_between"),
        pytest.param(f'{IN}(PropertyName=\'c\',PropertyValues=["1","2"])', qf("In", NAME_C, ("PropertyValues", (lit("1"), lit("2")))), id="in_"),
        pytest.param('Microsoft.Dynamics.CRM.NotIn(PropertyName=\'c\',PropertyValues=["1","2"])', qf("NotIn", NAME_C, ("PropertyValues", (lit("1"), lit("2")))), id="not_in"),
        # The SDK keeps a string value's doubled quote inside its JSON list; the parser reads the JSON as written.
        pytest.param(f'{IN}(PropertyName=\'c\',PropertyValues=["O\'\'Brien"])', qf("In", NAME_C, ("PropertyValues", (lit("O''Brien"),))), id="in_ with a quote"),
        pytest.param("Microsoft.Dynamics.CRM.Today(PropertyName='createdon')", qf("Today", ("PropertyName", lit("createdon"))), id="raw"),
        pytest.param("statecode eq 0", eq(prop("statecode"), lit(0)), id="int"),
        pytest.param("revenue gt 1000000.5", cmp(Comparison.GT, prop("revenue"), lit(Decimal("1000000.5"))), id="float"),
        pytest.param("revenue gt 1e-05", cmp(Comparison.GT, prop("revenue"), lit(Decimal("0.00001"))), id="small float"),
        pytest.param("name eq 'O''Brien'", eq(prop("name"), lit("O'Brien")), id="quoted string"),
        pytest.param("name eq null", eq(prop("name"), lit(None)), id="is_null"),
        pytest.param("name ne null", cmp(Comparison.NE, prop("name"), lit(None)), id="is_not_null"),
        pytest.param("donotemail eq true", eq(prop("donotemail"), lit(True)), id="bool"),
        pytest.param("createdon ge 2024-01-02T03:04:05Z", cmp(Comparison.GE, prop("createdon"), lit(utc(2024, 1, 2, 3, 4, 5))), id="datetime"),
        pytest.param("createdon ge 2024-01-02T03:04:05.123456Z", cmp(Comparison.GE, prop("createdon"), lit(utc(2024, 1, 2, 3, 4, 5, 123456))), id="datetime with microseconds"),
        pytest.param("birthdate eq 2024-01-02", eq(prop("birthdate"), lit(dt.date(2024, 1, 2))), id="date"),
        pytest.param("accountid eq 5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f60", eq(prop("accountid"), lit(GUID)), id="guid"),
        pytest.param("contains(name, 'x')", Call("contains", (prop("name"), lit("x"))), id="contains"),
        pytest.param("startswith(name, 'Con')", Call("startswith", (prop("name"), lit("Con"))), id="startswith"),
        pytest.param("endswith(name, 'Ltd')", Call("endswith", (prop("name"), lit("Ltd"))), id="endswith"),
    ],
)  # fmt: skip
def test_sdk_filter(text: str, expected: Expression) -> None:
    assert_parses(text, expected)


# --- errors ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        pytest.param("", "Expression expected", 0, id="empty"),
        pytest.param("   ", "Expression expected", 3, id="blank"),
        pytest.param("name eq 'Contoso", "There is an unterminated literal", 16, id="unterminated string"),
        pytest.param("name eq 'O''Brien", "There is an unterminated literal", 17, id="unterminated after an escaped quote"),
        pytest.param(f'{IN}(PropertyName=\'c\',PropertyValues=["1)', "There is an unterminated literal", 62, id="unterminated JSON string"),
        pytest.param("name eq", "Expression expected", 7, id="dangling comparison"),
        pytest.param("a eq 1 and", "Expression expected", 10, id="dangling and"),
        pytest.param("a eq 1 or ", "Expression expected", 10, id="dangling or"),
        pytest.param("not", "Expression expected", 3, id="dangling not"),
        pytest.param("name eq 'a' eq", "Expression expected", 14, id="dangling second comparison"),
        pytest.param("name eq )", "Syntax error", 9, id="close paren for an operand"),
        pytest.param("and a", "Syntax error", 3, id="leading and"),
        pytest.param("a eq not b", "Syntax error", 8, id="not as an operand"),
        pytest.param("(a eq 1", "')' or operator expected", 7, id="unclosed paren"),
        pytest.param("((a eq 1)", "')' or operator expected", 9, id="one unclosed paren"),
        pytest.param("a eq 1)", "Syntax error", 7, id="extra close paren"),
        pytest.param("a eq 1 b", "Syntax error", 8, id="trailing identifier"),
        pytest.param("name EQ 'x'", "Syntax error", 7, id="upper-case operator"),
        pytest.param("a eq 1 AND b eq 2", "Syntax error", 10, id="upper-case and"),
        pytest.param("contains(name, 'x'", "')' or ',' expected", 18, id="unclosed call"),
        pytest.param("contains(name 'x')", "')' or ',' expected", 14, id="missing comma"),
        pytest.param("foo(name)", "Unknown function 'foo'", 0, id="unknown function"),
        pytest.param("Contains(name, 'x')", "Unknown function 'Contains'", 0, id="function names are case-sensitive"),
        pytest.param("a eq 1 and Other.Fn(x=1)", "Unknown function 'Other.Fn'", 11, id="foreign namespace"),
        pytest.param(f"{IN}.X(PropertyName='c')", f"Unknown function '{IN}.X'", 0, id="dotted query function"),
        pytest.param("any(x: x eq 1)", "Unknown function 'any'", 0, id="lambda without navigation"),
        pytest.param("contains(name) eq 1", "The function 'contains' takes 2 argument(s), not 1", 0, id="too few arguments"),
        pytest.param("now(1) eq 1", "The function 'now' takes 0 argument(s), not 1", 0, id="too many arguments"),
        pytest.param("substring(name)", "The function 'substring' takes 2 or 3 argument(s), not 1", 0, id="substring arity"),
        pytest.param("id eq 5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f6", "Syntax error: '5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f6' is not a valid literal", 6, id="GUID with a short group"),
        pytest.param("id eq 5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f600", "Syntax error: '5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f600' is not a valid literal", 6, id="GUID with a long group"),
        pytest.param("id eq 00000000-0000-0000-0000-00000000000", "Syntax error: '00000000-0000-0000-0000-00000000000' is not a valid literal", 6, id="all-digit GUID with a short group"),
        pytest.param("id eq deadbeef-0000", "Syntax error: 'deadbeef-0000' is not a valid literal", 6, id="GUID fragment that starts like a name"),
        pytest.param("id eq 5f6c2a4g-6bd3-4a1c-9f0a-1b2c3d4e5f60", "Syntax error: '5f6c2a4g-6bd3-4a1c-9f0a-1b2c3d4e5f60' is not a valid literal", 6, id="GUID with a non-hex digit"),
        pytest.param("id eq guid'nope'", "Syntax error: 'guid'nope'' is not a valid literal", 6, id="bad old-style GUID"),
        pytest.param("id eq blob'x'", "Syntax error: 'blob'x'' is not a valid literal", 6, id="unknown literal prefix"),
        pytest.param("n eq 12abc", "Syntax error: '12abc' is not a valid literal", 5, id="number glued to letters"),
        pytest.param("n eq 1.", "Syntax error: '1.' is not a valid literal", 5, id="dangling decimal point"),
        pytest.param("n eq 1e", "Syntax error: '1e' is not a valid literal", 5, id="dangling exponent"),
        pytest.param("n eq 1e999999999999999999999", "Syntax error: '1e999999999999999999999' is not a valid literal", 5, id="exponent out of range"),
        pytest.param("d eq 2024-13-01", "Syntax error: '2024-13-01' is not a valid literal", 5, id="month 13"),
        pytest.param("d eq 2024-02-30", "Syntax error: '2024-02-30' is not a valid literal", 5, id="February 30"),
        pytest.param("d eq 2024-01-02T25:00:00Z", "Syntax error: '2024-01-02T25:00:00Z' is not a valid literal", 5, id="hour 25"),
        pytest.param("d eq 2024-01-02T03:04:05+24:00", "Syntax error: '2024-01-02T03:04:05+24:00' is not a valid literal", 5, id="offset of 24 hours"),
        pytest.param("d eq 2024-01-02T03:04:05+01:60", "Syntax error: '2024-01-02T03:04:05+01:60' is not a valid literal", 5, id="offset of 60 minutes"),
        pytest.param("d eq 2024-01-02T", "Syntax error: '2024-01-02T' is not a valid literal", 5, id="truncated datetime"),
        pytest.param("d eq 0001-01-01T00:00:00+01:00", "Syntax error: '0001-01-01T00:00:00+01:00' is not a valid literal", 5, id="before year 1 in UTC"),
        pytest.param("name eq #", "Syntax error: character '#' is not valid", 8, id="invalid character"),
        pytest.param("$it eq 1", "Syntax error: character '$' is not valid", 0, id="dollar"),
        pytest.param("name eq @", "Syntax error: character '@' is not valid", 8, id="bare at sign"),
        pytest.param('name eq "x"', "Syntax error", 11, id="JSON string outside a list"),
        pytest.param("a/'b' eq 1", "Syntax error", 5, id="literal as a path segment"),
        pytest.param("Microsoft.Dynamics.CRM.account eq 1", "Syntax error", 30, id="type cast"),
        pytest.param("name eq @p1", "Parameter alias '@p1' was not provided", 8, id="missing alias"),
        pytest.param("nav/all()", "Lambda variable expected", 8, id="all needs a predicate"),
        pytest.param("nav/any(null: null eq 1)", "Lambda variable expected", 8, id="keyword as variable"),
        pytest.param("nav/any(c c/x eq 1)", "':' expected", 10, id="missing colon"),
        pytest.param("nav/any(c: c/x eq 1", "')' or operator expected", 19, id="unclosed lambda"),
        pytest.param(f"{IN}(PropertyName='a',PropertyName='b')", "Duplicate parameter 'PropertyName'", 43, id="duplicate parameter"),
        pytest.param(f"{IN}(PropertyName)", "'=' expected", 38, id="missing equals"),
        pytest.param(f"{IN}('c')", "Parameter name expected", 26, id="positional parameter"),
        pytest.param(f"{IN}(PropertyName='c' PropertyValues=[])", "')' or ',' expected", 43, id="missing comma between parameters"),
        pytest.param(f"{IN}(PropertyName='c',PropertyValues=['a' 'b'])", "']' or ',' expected", 63, id="missing comma in a list"),
        pytest.param(f"{IN}(PropertyName='c',PropertyValues=[name])", "Syntax error", 63, id="property in a list"),
        pytest.param(f'{IN}(PropertyName="c")', "Syntax error", 42, id="JSON string as a single value"),
        pytest.param(f"{IN}(PropertyName='c',PropertyValues=['a'", "']' or ',' expected", 62, id="unclosed list"),
        pytest.param(f"{IN}(PropertyName='c'", "')' or ',' expected", 42, id="unclosed query function"),
    ],
)  # fmt: skip
def test_syntax_error(text: str, message: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)

    assert str(caught.value) == f"{message} at position {position} in '{text}'."
    assert caught.value.position == position
    assert caught.value.text == text


def test_error_in_an_alias_value_points_into_the_alias() -> None:
    with pytest.raises(FilterSyntaxError, match=r"^There is an unterminated literal at position 4 in ''abc'\.$"):
        parse_filter("name eq @p1", aliases={"@p1": "'abc"})


def test_alias_value_is_one_operand() -> None:
    with pytest.raises(FilterSyntaxError, match=r"^Syntax error at position 4 in 'a eq 1 or b'\.$"):
        parse_filter("@p1", aliases={"@p1": "a eq 1 or b"})


def test_aliases_are_not_resolved_inside_alias_values() -> None:
    with pytest.raises(FilterSyntaxError, match="Parameter alias '@p1' was not provided"):
        parse_filter("name eq @p1", aliases={"@p1": "@p1"})


# --- limits ---------------------------------------------------------------------------------------------------------


def _nested(depth: int) -> list[tuple[str, str]]:
    """Filters nested ``depth`` levels deep through each construct that costs a level."""
    return [
        ("(" * depth + "a" + ")" * depth, "parentheses"),
        ("not " * depth + "a", "not"),
        ("tolower(" * depth + "a" + ")" * depth, "calls"),
        ("".join(f"n/any(v{i}: " for i in range(depth)) + "a" + ")" * depth, "lambdas"),
        ("not (" * (depth // 2) + "not " * (depth % 2) + "a" + ")" * (depth // 2), "not and parentheses"),
    ]


@pytest.mark.parametrize(("text", "kind"), _nested(MAX_DEPTH), ids=[kind for _, kind in _nested(MAX_DEPTH)])
def test_nesting_up_to_the_limit_parses(text: str, kind: str) -> None:
    parse_filter(text)


@pytest.mark.parametrize(("text", "kind"), _nested(MAX_DEPTH + 1), ids=[kind for _, kind in _nested(MAX_DEPTH + 1)])
def test_nesting_beyond_the_limit_is_rejected(text: str, kind: str) -> None:
    with pytest.raises(FilterSyntaxError, match=f"^The query exceeds the maximum nesting depth of {MAX_DEPTH} at"):
        parse_filter(text)


def test_nesting_through_an_alias_counts_against_the_limit() -> None:
    half = MAX_DEPTH // 2 + 1
    with pytest.raises(FilterSyntaxError, match="maximum nesting depth"):
        parse_filter("(" * half + "@p1" + ")" * half, aliases={"@p1": "(" * half + "a" + ")" * half})


def test_long_flat_chains_are_not_nesting() -> None:
    text = " or ".join(f"a eq {i}" for i in range(2000))
    assert len(text) < MAX_LENGTH

    expression = parse_filter(text)

    count = 0
    while isinstance(expression, Or):
        expression, count = expression.left, count + 1
    assert count == 1999
    assert expression == eq(prop("a"), lit(0))


def test_length_limit() -> None:
    parse_filter("a" * MAX_LENGTH)
    with pytest.raises(
        FilterSyntaxError, match=f"^The query exceeds the maximum length of {MAX_LENGTH} characters"
    ) as caught:
        parse_filter("a" * (MAX_LENGTH + 1))
    assert caught.value.position == MAX_LENGTH


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("'" * 30001, id="quotes"),
        pytest.param("'" + "''" * 15000, id="escaped quotes"),
        pytest.param('["' + "\\" * 30000, id="backslashes"),
        pytest.param("9" * 30000, id="long integer"),
        pytest.param("-" + "9" * 30000 + ".5", id="long decimal"),
        pytest.param("a/" * 10000 + "a", id="long path"),
        pytest.param("not " * 8000, id="many nots"),
    ],
)
def test_pathological_input_parses_or_fails_cleanly(text: str) -> None:
    error = _syntax_error(text)
    assert error is None or 0 <= error.position <= len(text)


# --- properties -----------------------------------------------------------------------------------------------------

TOKENS = [
    "a", "b/c", "eq", "ne", "and", "or", "not", "(", ")", ",", "'x'", "''", "'", '"', "[", "]", "=", ":", "/", "@p",
    "1", "-1.5", "1e", "null", "true", "2024-01-02", "T03:04:05Z", "+01:00", str(GUID), str(GUID)[:30], "contains(",
    "now()", "x/any(", "v:", f"{IN}(", "PropertyValues=", "guid'", " ",
]  # fmt: skip


@given(st.text(max_size=200))
def test_random_text_only_raises_filter_syntax_error(text: str) -> None:
    error = _syntax_error(text, aliases={"@p": text})
    assert error is None or 0 <= error.position <= len(text)


@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from(["", " "]))
def test_random_token_soup_only_raises_filter_syntax_error(tokens: list[str], separator: str) -> None:
    text = separator.join(tokens)
    error = _syntax_error(text, aliases={"@p": "'v'"})
    assert error is None or 0 <= error.position <= len(text)


RESERVED = {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "null", "true", "false"}
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(lambda name: name not in RESERVED)
literals = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15),
    st.text(max_size=10),
    st.uuids(),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
).map(Literal)
properties = st.lists(identifiers, min_size=1, max_size=3).map(lambda path: Property(tuple(path)))


def _calls(operands: st.SearchStrategy[Expression]) -> st.SearchStrategy[Expression]:
    def call(name: str) -> st.SearchStrategy[Expression]:
        arity = st.sampled_from(FUNCTIONS[name])
        return arity.flatmap(lambda n: st.lists(operands, min_size=n, max_size=n)).map(lambda a: Call(name, tuple(a)))

    return st.sampled_from(sorted(FUNCTIONS)).flatmap(call)


def _compound(children: st.SearchStrategy[Expression]) -> st.SearchStrategy[Expression]:
    navigation = st.lists(identifiers, min_size=1, max_size=2).map(tuple)
    return st.one_of(
        st.builds(And, children, children),
        st.builds(Or, children, children),
        st.builds(Not, children),
        st.builds(Lambda, navigation, st.sampled_from(["any", "all"]), identifiers, children),
        st.builds(Lambda, navigation, st.just("any"), st.none(), st.none()),
    )


operands: st.SearchStrategy[Expression] = st.recursive(st.one_of(literals, properties), _calls, max_leaves=4)
query_functions = st.builds(
    QueryFunction,
    st.sampled_from(["In", "NotIn", "Between", "Today", "LastXDays", "On", "EqualUserId", "Under"]),
    st.dictionaries(identifiers, st.one_of(literals, st.lists(literals, max_size=3).map(tuple)), max_size=3).map(
        lambda parameters: tuple(parameters.items())
    ),
)
comparisons = st.builds(Compare, st.sampled_from(Comparison), operands, operands)
expressions = st.recursive(st.one_of(comparisons, query_functions, operands), _compound, max_leaves=8)


def _render_literal(value: object, *, in_list: bool = False) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        # Inside a list, alternate between the SDK's JSON strings and the docs' single-quoted ones.
        return json.dumps(value) if in_list and len(value) % 2 else "'" + value.replace("'", "''") + "'"
    if isinstance(value, Decimal):
        text = str(value)
        return text if any(c in text for c in ".Ee") else text + ".0"
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)  # int or UUID


def render(node: Expression) -> str:
    """Write ``node`` back as ``$filter`` text, fully parenthesised the way the SDK writes it."""
    match node:
        case Literal(value):
            return _render_literal(value)
        case Property(path):
            return "/".join(path)
        case Compare(op, left, right):
            return f"{render(left)} {op.value} {render(right)}"
        case And(left, right):
            return f"({render(left)} and {render(right)})"
        case Or(left, right):
            return f"({render(left)} or {render(right)})"
        case Not(operand):
            return f"not ({render(operand)})"
        case Call(name, args):
            return f"{name}({', '.join(render(arg) for arg in args)})"
        case QueryFunction(name, parameters):
            written = [
                f"{key}=[{','.join(_render_literal(item.value, in_list=True) for item in value)}]"
                if isinstance(value, tuple)
                else f"{key}={_render_literal(value.value)}"
                for key, value in parameters
            ]
            return f"Microsoft.Dynamics.CRM.{name}({','.join(written)})"
        case Lambda(navigation, quantifier, variable, predicate):
            body = "" if predicate is None else f"{variable}: {render(predicate)}"
            return f"{'/'.join(navigation)}/{quantifier}({body})"
    raise AssertionError(node)


@given(expressions)
def test_rendered_trees_parse_back_to_themselves(expression: Expression) -> None:
    assert_parses(render(expression), expression)


@given(
    st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=st.just(UTC)),
    st.integers(-14 * 60, 14 * 60),
)
def test_datetime_offsets_normalise_to_utc(instant: dt.datetime, offset_minutes: int) -> None:
    local = instant.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))

    assert_parses(f"d eq {local.isoformat()}", eq(prop("d"), lit(instant)))
