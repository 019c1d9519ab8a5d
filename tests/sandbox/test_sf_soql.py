"""The sandbox's SOQL subset: parsing, checking and evaluation, over a small in-test data source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from simple_salesforce import format_soql

from lsqsf_helpers import sfid
from lsqsf_helpers.sandbox.salesforce import soql
from lsqsf_helpers.sandbox.salesforce.soql import FieldDef as F
from lsqsf_helpers.sandbox.salesforce.soql import RelationshipDef as R
from lsqsf_helpers.sandbox.salesforce.soql import SObjectType, SoqlError

P1, P2 = sfid.mint("00e", "5g", 1), sfid.mint("00e", "5g", 2)
U1, U2, U3 = sfid.mint("005", "5g", 1), sfid.mint("005", "5g", 2), sfid.mint("005", "5g", 3)

TYPES = {
    t.name.lower(): t
    for t in (
        SObjectType(
            "User",
            (
                F("Id", "id"),
                F("Username"),
                F("IsActive", "boolean"),
                F("ProfileId", "reference"),
                F("Count", "int"),
                F("Blob", "object"),
                F("ManagerId", "reference"),
            ),
            (R("Profile", "Profile", "ProfileId"), R("Manager", "User", "ManagerId")),
        ),
        SObjectType(
            "Profile",
            (F("Id", "id"), F("Name"), F("PermissionsModifyAllData", "boolean"), F("FullName")),
            (),
            frozenset({"FullName"}),
        ),
    )
}
ROWS: dict[str, list[dict[str, Any]]] = {
    "User": [
        {
            "Id": U1,
            "Username": "a@x.example",
            "IsActive": True,
            "ProfileId": P1,
            "Count": 3,
            "Blob": {"k": 1},
            "ManagerId": None,
        },
        {
            "Id": U2,
            "Username": "O'Brien@x.example",
            "IsActive": False,
            "ProfileId": P2,
            "Count": 5,
            "Blob": None,
            "ManagerId": U1,
        },
        {
            "Id": U3,
            "Username": "c@x.example",
            "IsActive": True,
            "ProfileId": None,
            "Count": 7,
            "Blob": None,
            "ManagerId": U2,
        },
    ],
    "Profile": [
        {"Id": P1, "Name": "System Administrator", "PermissionsModifyAllData": True, "FullName": "Admin"},
        {"Id": P2, "Name": "Standard User", "PermissionsModifyAllData": False, "FullName": "Standard"},
    ],
}


class Source:
    def sobject_type(self, name: str) -> SObjectType | None:
        return TYPES.get(name.lower())

    def rows(self, object_name: str) -> Sequence[Mapping[str, Any]]:
        return ROWS[object_name]

    def get(self, object_name: str, record_id: str) -> Mapping[str, Any] | None:
        return next((r for r in ROWS[object_name] if r["Id"][:15] == record_id[:15]), None)


def run(query: str) -> list[dict[str, Any]]:
    return soql.execute(
        query, Source(), lambda obj, rid: f"/services/data/v59.0/sobjects/{obj}/{rid}"
    ).records


# ----- evaluation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected_ids"),
    [
        ("SELECT Id FROM User", [U1, U2, U3]),
        ("select id from user", [U1, U2, U3]),
        ("SELECT Id FROM User WHERE IsActive = true", [U1, U3]),
        ("SELECT Id FROM User WHERE IsActive != true", [U2]),
        ("SELECT Id FROM User WHERE IsActive <> false", [U1, U3]),
        (f"SELECT Id FROM User WHERE Id = '{U2}'", [U2]),
        (f"SELECT Id FROM User WHERE Id = '{U2[:15]}'", [U2]),  # 15-char ids match 18-char ones
        (f"SELECT Id FROM User WHERE Id IN ('{U1}', '{U3}')", [U1, U3]),
        ("SELECT Id FROM User WHERE Username = 'A@X.EXAMPLE'", [U1]),  # string = is case-insensitive
        ("SELECT Id FROM User WHERE ProfileId = null", [U3]),
        ("SELECT Id FROM User WHERE ProfileId != null", [U1, U2]),
        ("SELECT Id FROM User WHERE Count = 5", [U2]),
        ("SELECT Id FROM User WHERE Count IN (3, 7) AND IsActive = true", [U1, U3]),
        ("SELECT Id FROM User WHERE (Count IN (3, 7)) AND (IsActive = true AND Count != 7)", [U1]),
        ("SELECT Id FROM User WHERE Profile.Name = 'standard user'", [U2]),
        ("SELECT Id FROM User WHERE Profile.PermissionsModifyAllData = true", [U1]),
        ("SELECT Id FROM User WHERE Manager.Manager.Username = 'a@x.example'", [U3]),
        ("SELECT Id FROM User LIMIT 2", [U1, U2]),
        ("SELECT Id FROM User WHERE IsActive = true LIMIT 1", [U1]),
        ("SELECT Id FROM User LIMIT 0", []),
        ("SELECT Id\nFROM User\nWHERE IsActive = false", [U2]),
    ],
)
def test_evaluate(query: str, expected_ids: list[str]) -> None:
    assert [r["Id"] for r in run(query)] == expected_ids


def test_records_have_attributes_canonical_names_and_nested_relationships() -> None:
    records = run("SELECT username, PROFILE.name, profile.id, isactive FROM user WHERE Count = 3")
    assert records == [
        {
            "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{U1}"},
            "Username": "a@x.example",
            "Profile": {
                "attributes": {"type": "Profile", "url": f"/services/data/v59.0/sobjects/Profile/{P1}"},
                "Name": "System Administrator",
                "Id": P1,
            },
            "IsActive": True,
        }
    ]
    assert list(records[0]) == ["attributes", "Username", "Profile", "IsActive"]


def test_empty_relationship_is_null_and_compound_fields_pass_through() -> None:
    [record] = run("SELECT Profile.Name, Manager.Manager.Username, Blob FROM User WHERE Count = 7")
    assert record["Profile"] is None
    assert record["Manager"]["Manager"]["Username"] == "a@x.example"
    assert record["Manager"]["attributes"]["type"] == "User"
    [first] = run("SELECT Manager.Username, Blob FROM User WHERE Count = 3")
    assert first["Manager"] is None and first["Blob"] == {"k": 1}


def test_format_soql_escapes_round_trip() -> None:
    query = format_soql("SELECT Id FROM User WHERE Username = {}", "O'Brien@x.example")
    assert [r["Id"] for r in run(query)] == [U2]
    assert (
        soql.parse(r"SELECT Id FROM User WHERE Username = 'a\\b\n\t\"'").where[0].values[0].value
        == 'a\\b\n\t"'
    )


def test_single_row_fields_need_at_most_one_row() -> None:
    assert run(f"SELECT FullName FROM Profile WHERE Id = '{P1}'")[0]["FullName"] == "Admin"
    assert run("SELECT FullName FROM Profile LIMIT 1")[0]["FullName"] == "Admin"
    with pytest.raises(SoqlError) as err:
        run("SELECT Id, FullName FROM Profile")
    assert err.value.error_code == "MALFORMED_QUERY"


def test_on_read_hook_sees_the_returned_rows() -> None:
    seen: list[tuple[str, int]] = []

    def on_read(obj: str, rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        seen.append((obj, len(rows)))
        return [dict(r, Username="changed") for r in rows]

    result = soql.execute(
        "SELECT Username FROM User WHERE IsActive = true", Source(), lambda o, i: i, on_read
    )
    assert seen == [("User", 2)]
    assert [r["Username"] for r in result.records] == ["changed", "changed"]
    assert result.sobject == "User"


# ----- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code", "fragment"),
    [
        ("", "MALFORMED_QUERY", "query string"),
        ("SELEC Id FROM User", "MALFORMED_QUERY", "unexpected token: 'SELEC'"),
        ("SELECT FROM User", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
        ("SELECT Id FROM", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        ("SELECT Id, FROM User", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
        ("SELECT Id FROM User WHERE", "MALFORMED_QUERY", "<EOF>"),
        (
            "SELECT Id FROM User WHERE IsActive = true OR Count = 3",
            "MALFORMED_QUERY",
            "'OR' (valid SOQL, but not",
        ),
        ("SELECT Id FROM User WHERE Username LIKE 'a%'", "MALFORMED_QUERY", "'LIKE' (valid SOQL"),
        ("SELECT Id FROM User WHERE NOT IsActive = true", "MALFORMED_QUERY", "'NOT'"),
        ("SELECT Id FROM User WHERE Count > 3", "MALFORMED_QUERY", "'>' (valid SOQL"),
        ("SELECT Id FROM User ORDER BY Username", "MALFORMED_QUERY", "'ORDER' (valid SOQL"),
        ("SELECT Id FROM User GROUP BY Username", "MALFORMED_QUERY", "'GROUP'"),
        ("SELECT COUNT() FROM User", "MALFORMED_QUERY", "functions and aggregates"),
        ("SELECT Id, (SELECT Id FROM Users) FROM Profile", "MALFORMED_QUERY", "subqueries"),
        ("SELECT Id FROM User WHERE Id IN (SELECT AssigneeId FROM X)", "MALFORMED_QUERY", "semi-joins"),
        ("SELECT Id FROM User WHERE Id = :uid", "MALFORMED_QUERY", "unexpected token: ':'"),
        ("SELECT Id FROM User WHERE CreatedDate = TODAY", "MALFORMED_QUERY", "date literals"),
        ("SELECT Id FROM User LIMIT x", "MALFORMED_QUERY", "unexpected token: 'x'"),
        ("SELECT Id FROM User LIMIT 1 LIMIT 2", "MALFORMED_QUERY", "unexpected token: 'LIMIT'"),
        ("SELECT Id FROM User u", "MALFORMED_QUERY", "unexpected token: 'u'"),
        ("SELECT Id FROM User WHERE Username = 'open", "MALFORMED_QUERY", "unterminated"),
        (r"SELECT Id FROM User WHERE Username = 'bad\q'", "MALFORMED_QUERY", "escape"),
        ("SELECT Id FROM User WHERE (IsActive = true", "MALFORMED_QUERY", "<EOF>"),
        ("SELECT Id; FROM User", "MALFORMED_QUERY", "unexpected token: ';'"),
        ("SELECT Id, Id FROM User", "MALFORMED_QUERY", "duplicate field selected: Id"),
        ("SELECT Id FROM Gizmo", "INVALID_TYPE", "sObject type 'Gizmo' is not supported"),
        ("SELECT Nope FROM User", "INVALID_FIELD", "No such column 'Nope' on entity 'User'"),
        ("SELECT Profile.Nope FROM User", "INVALID_FIELD", "No such column 'Nope' on entity 'Profile'"),
        ("SELECT Boss.Name FROM User", "INVALID_FIELD", "relationship 'Boss'"),
        ("SELECT Profile FROM User", "INVALID_FIELD", "No such column 'Profile'"),
        ("SELECT Id FROM User WHERE Nope = 1", "INVALID_FIELD", "No such column 'Nope'"),
        ("SELECT Id FROM User WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"),
        ("SELECT Id FROM User WHERE IsActive = 'true'", "INVALID_FIELD", "must be of type boolean"),
        ("SELECT Id FROM User WHERE Count = '3'", "INVALID_FIELD", "must be of type int"),
        ("SELECT Id FROM User WHERE Username = 3", "INVALID_FIELD", "must be of type string"),
        ("SELECT Id FROM User WHERE Blob = null", "INVALID_FIELD", "can not be filtered"),
    ],
)
def test_refused_queries(query: str, code: str, fragment: str) -> None:
    with pytest.raises(SoqlError) as err:
        run(query)
    assert err.value.error_code == code
    assert fragment in err.value.message


def test_error_message_points_at_the_token_like_salesforce() -> None:
    with pytest.raises(SoqlError) as err:
        run("SELECT Id FROM XYZZY")
    lines = err.value.message.split("\n")
    assert lines[0] == ""
    assert lines[1] == "SELECT Id FROM XYZZY"
    assert lines[2] == " " * 15 + "^"
    assert lines[3] == "ERROR at Row:1:Column:16"
    with pytest.raises(SoqlError) as err:
        run("SELECT Id\nFROM User\nWHERE IsActive = true OR Count = 3")
    lines = err.value.message.split("\n")
    assert lines[1] == "WHERE IsActive = true OR Count = 3"
    assert lines[2].index("^") == 22
    assert lines[3] == "ERROR at Row:3:Column:23"


def test_field_types_are_checked() -> None:
    with pytest.raises(ValueError):
        F("X", "blob")
