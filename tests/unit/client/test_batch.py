"""``$batch`` on the client side: the exact request body, and replies in the shapes Dataverse documents."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from d365local.client import Batch, BatchError, ClientError, DataverseApiError
from d365local.client.batch import MAX_OPERATIONS, batch_request, read_reply

API = "https://contoso.crm.dynamics.com/api/data/v9.2"
ACCOUNT = "00000000-0000-0000-0000-000000000001"
CONTACT = "00000000-0000-0000-0000-000000000002"


def sample_batch() -> Batch:
    batch = Batch()
    with batch.change_set() as change_set:
        account = change_set.create("accounts", {"name": "Contoso"})
        change_set.create("contacts", {"lastname": "Smith", "parentcustomerid_account@odata.bind": account})
    batch.query("accounts", select=["name"], filter="name eq 'Contoso'", top=5)
    return batch


def test_the_request_body_is_what_dataverse_documents() -> None:
    ids = iter(["b1", "c1"])
    body, content_type = sample_batch().render(API, new_id=lambda: next(ids))
    assert content_type == 'multipart/mixed; boundary="batch_b1"'
    assert body.decode() == (
        "--batch_b1\r\n"
        'Content-Type: multipart/mixed; boundary="changeset_c1"\r\n'
        "\r\n"
        "--changeset_c1\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        "Content-ID: 1\r\n"
        "\r\n"
        f"POST {API}/accounts HTTP/1.1\r\n"
        "Content-Type: application/json; type=entry\r\n"
        "\r\n"
        '{"name":"Contoso"}\r\n'
        "--changeset_c1\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        "Content-ID: 2\r\n"
        "\r\n"
        f"POST {API}/contacts HTTP/1.1\r\n"
        "Content-Type: application/json; type=entry\r\n"
        "\r\n"
        '{"lastname":"Smith","parentcustomerid_account@odata.bind":"$1"}\r\n'
        "--changeset_c1--\r\n"
        "\r\n"
        "--batch_b1\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        "\r\n"
        f"GET {API}/accounts?$select=name&$filter=name%20eq%20'Contoso'&$top=5 HTTP/1.1\r\n"
        "\r\n"
        "--batch_b1--\r\n"
    )


def test_references_address_earlier_operations_of_the_same_change_set() -> None:
    batch = Batch()
    change_set = batch.change_set()
    created = change_set.create("accounts", {"name": "a"})
    change_set.update("accounts", created, {"name": "b"})
    change_set.delete("accounts", created)
    change_set.upsert("accounts", "accountnumber='A 1'", {"name": "c"})
    body = batch.render(API)[0].decode()
    assert "PATCH $1 HTTP/1.1\r\nContent-Type: application/json; type=entry\r\nIf-Match: *\r\n" in body
    assert "DELETE $1 HTTP/1.1\r\nIf-Match: *\r\n" in body
    assert f"PATCH {API}/accounts(accountnumber='A%201') HTTP/1.1\r\n" in body
    assert [op.content_id for op in batch.operations] == ["1", "2", "3", "4"]
    with pytest.raises(ClientError, match=r"\$9"):
        change_set.update("accounts", "$9", {})
    with pytest.raises(ClientError, match=r"\$1"):
        batch.change_set().delete("accounts", "$1")  # a reference is scoped to its change set


def test_content_ids_are_unique_across_the_batch_and_empty_change_sets_are_left_out() -> None:
    batch = Batch()
    batch.change_set().create("accounts", {})
    batch.change_set()
    batch.get("accounts", ACCOUNT, select=["name"])
    assert batch.change_set().create("accounts", {}) == "$2"
    assert len(batch.items) == 3
    assert len(batch) == 3


def test_more_than_1000_operations_are_refused_before_sending() -> None:
    batch = Batch()
    change_set = batch.change_set()
    for _ in range(MAX_OPERATIONS):
        change_set.create("accounts", {})
    with pytest.raises(ClientError, match="at most 1000"):
        batch.get("accounts", ACCOUNT)


def test_the_batch_request_carries_continue_on_error() -> None:
    request = batch_request(sample_batch(), API, continue_on_error=True)
    assert (request.method, request.path) == ("POST", "$batch")
    assert request.headers["Prefer"] == "odata.continue-on-error"
    assert request.headers["Content-Type"].startswith('multipart/mixed; boundary="batch_')
    assert "Prefer" not in batch_request(sample_batch(), API).headers


# The reply to sample_batch() as the Dataverse docs show it (webapi/execute-batch-operations-using-web-api.md).
SUCCESS = (
    "--batchresponse_0f1b\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_77ab\r\n"
    "\r\n"
    "--changesetresponse_77ab\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-ID: 1\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "OData-Version: 4.0\r\n"
    f"Location: {API}/accounts({ACCOUNT})\r\n"
    f"OData-EntityId: {API}/accounts({ACCOUNT})\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_77ab\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-ID: 2\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "OData-Version: 4.0\r\n"
    f"OData-EntityId: {API}/contacts({CONTACT})\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_77ab--\r\n"
    "--batchresponse_0f1b\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json; odata.metadata=minimal; odata.streaming=true\r\n"
    "OData-Version: 4.0\r\n"
    "\r\n"
    "{\r\n"
    f'  "@odata.context": "{API}/$metadata#accounts(name)",\r\n'
    '  "value": [{"@odata.etag": "W/\\"1\\"", "name": "Contoso", "accountid": "' + ACCOUNT + '"}]\r\n'
    "}\r\n"
    "--batchresponse_0f1b--\r\n"
)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("quoted", [False, True])
def test_a_successful_reply_gives_one_result_per_operation(newline: str, quoted: bool) -> None:
    boundary = '"batchresponse_0f1b"' if quoted else "batchresponse_0f1b"
    text = SUCCESS.replace("\r\n", newline)
    if quoted:
        text = text.replace("boundary=changesetresponse_77ab", 'boundary="changesetresponse_77ab"')
    batch = sample_batch()
    headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
    results = read_reply(batch, 200, headers, text.encode())
    assert [r.status for r in results] == [204, 204, 200]
    assert [r.content_id for r in results] == ["1", "2", None]
    assert [r.entity_id for r in results] == [ACCOUNT, CONTACT, None]
    assert results[0].headers["location"].endswith(f"({ACCOUNT})")
    assert results[0].body is None
    assert results[2].body is not None
    assert results[2].body["value"][0]["name"] == "Contoso"
    assert all(r.ok and r.error is None for r in results)
    assert [r.operation for r in results] == batch.operations


def test_change_set_answers_are_matched_by_content_id() -> None:
    swapped = SUCCESS.replace("Content-ID: 1\r\n", "Content-ID: X\r\n")
    swapped = swapped.replace("Content-ID: 2\r\n", "Content-ID: 1\r\n").replace(
        "Content-ID: X\r\n", "Content-ID: 2\r\n"
    )
    results = read_reply(
        sample_batch(), 200, {"content-type": "multipart/mixed; boundary=batchresponse_0f1b"}, swapped.encode()
    )
    assert [r.entity_id for r in results[:2]] == [CONTACT, ACCOUNT]


# A change set whose second operation fails: Dataverse stops (no continue-on-error), answers 400, and the
# change set's answer is the one error that rolled it back.
FAILURE = (
    "--batchresponse_9c2e\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 400 Bad Request\r\n"
    "REQ_ID: 5ecd1cb3-1730-4ffc-909c-d44c22270026\r\n"
    "Content-Type: application/json; odata.metadata=minimal\r\n"
    "OData-Version: 4.0\r\n"
    "\r\n"
    '{"error":{"code":"0x80048d19","message":"Error identified in Payload provided by the user for Entity :\'contacts\'"}}\r\n'
    "--batchresponse_9c2e--\r\n"
)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_a_failed_change_set_fails_every_operation_in_it(newline: str) -> None:
    headers = {"Content-Type": "multipart/mixed; boundary=batchresponse_9c2e"}
    results = read_reply(sample_batch(), 400, headers, FAILURE.replace("\r\n", newline).encode())
    assert [r.status for r in results] == [400, 400]  # the GET after it never ran
    assert [r.content_id for r in results] == ["1", "2"]
    error = results[1].error
    assert error is not None
    assert (error.status, error.code) == (400, "0x80048d19")
    assert "Payload" in error.message
    with pytest.raises(DataverseApiError) as caught:
        results[0].raise_for_status()
    assert caught.value.code == "0x80048d19"


def test_a_failure_nested_in_a_change_set_response_counts_for_the_whole_change_set() -> None:
    nested = (
        "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-ID: 2\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
        '{"error":{"code":"0x80040217","message":"account With Id = 1 Does Not Exist"}}\r\n'
        "--changesetresponse_2--\r\n--batchresponse_1--\r\n"
    )
    headers = {"Content-Type": "multipart/mixed; boundary=batchresponse_1"}
    with pytest.raises(BatchError) as caught:
        read_reply(sample_batch(), 400, headers, nested.encode(), raise_on_error=True)
    assert (caught.value.status, caught.value.code) == (404, "0x80040217")
    assert [r.status for r in caught.value.results] == [404, 404]


def test_continue_on_error_answers_every_operation() -> None:
    batch = Batch()
    batch.change_set().delete("accounts", ACCOUNT)
    batch.get("accounts", ACCOUNT)
    reply = (
        "--batchresponse_3\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
        'HTTP/1.1 404 Not Found\nContent-Type: application/json\n\n{"error":{"code":"0x80040217","message":"gone"}}\n'
        "--batchresponse_3\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
        'HTTP/1.1 200 OK\nContent-Type: application/json\n\n{"name":"x"}\n'
        "--batchresponse_3--\n"
    )
    results = read_reply(batch, 200, {"Content-Type": 'multipart/mixed; boundary="batchresponse_3"'}, reply.encode())
    assert [r.ok for r in results] == [False, True]
    assert results[1].body == {"name": "x"}


def test_a_rejected_batch_raises_the_dataverse_error() -> None:
    body = b'{"error":{"code":"0x80040216","message":"The batch request must have Content-Type multipart/mixed."}}'
    with pytest.raises(DataverseApiError) as caught:
        read_reply(sample_batch(), 400, {"Content-Type": "application/json; odata.metadata=minimal"}, body)
    assert (caught.value.status, caught.value.code) == (400, "0x80040216")


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"Content-Type": "application/json"}, b"{}", "not multipart"),
        ({"Content-Type": "multipart/mixed"}, b"", "no boundary"),
        (
            {"Content-Type": "multipart/mixed; boundary=b"},
            b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n",
            "does not end",
        ),
        (
            {"Content-Type": "multipart/mixed; boundary=b"},
            b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 2x OK\r\n--b--",
            "status line",
        ),
        ({"Content-Type": "multipart/mixed; boundary=b"}, b"--b\r\nbroken header\r\n\r\n--b--", "header line"),
        ({"Content-Type": "multipart/mixed; boundary=b"}, b"\xff\xfe", "UTF-8"),
        (
            {"Content-Type": "multipart/mixed; boundary=b"},
            b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n" * 3 + b"--b--",
            "3 parts for 2",
        ),
    ],
)
def test_unreadable_replies_raise_client_errors(headers: dict[str, str], body: bytes, message: str) -> None:
    with pytest.raises(ClientError, match=message):
        read_reply(sample_batch(), 200, headers, body)


def test_a_400_multipart_without_a_failed_part_still_raises() -> None:
    with pytest.raises(DataverseApiError):
        read_reply(sample_batch(), 400, {"Content-Type": "multipart/mixed; boundary=b"}, b"--b--\r\n")


@given(
    status=st.sampled_from([200, 202, 400, 500]),
    content_type=st.sampled_from(
        ["multipart/mixed; boundary=b", 'multipart/mixed; boundary="batchresponse_1"', "application/json", ""]
    ),
    body=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    "--b",
                    "--b--",
                    "--batchresponse_1",
                    "--batchresponse_1--",
                    "Content-Type: application/http",
                    "Content-Type: multipart/mixed; boundary=c",
                    "--c",
                    "--c--",
                    "Content-ID: 1",
                    "Content-ID: 2",
                    "",
                    "HTTP/1.1 204 No Content",
                    "HTTP/1.1 400 Bad Request",
                    "HTTP/1.1 ²00 OK",
                    "OData-EntityId: x",
                    '{"error":{"code":"0x1","message":"m"}}',
                    '{"error":[]}',
                    "[[[",
                    "no colon",
                ]
            ),
            max_size=30,
        ).map(lambda lines: "\r\n".join(lines).encode()),
    ),
)
def test_parsing_never_raises_anything_but_client_errors(status: int, content_type: str, body: bytes) -> None:
    try:
        results = read_reply(sample_batch(), status, {"Content-Type": content_type}, body)
    except ClientError:  # DataverseApiError is a ClientError
        return
    for result in results:
        assert result.error is None or isinstance(result.error, DataverseApiError)
