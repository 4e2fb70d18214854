"""The local stack against a small fixture template: resources, HTTP API, mappings, schedules,
Lambda-like workers. One stack serves the module: starting it is the slow part, so every test
uses its own functions, keys, tables or queues and the tests pass in any order."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tts_local.stack import LocalStack, StackSettings

FIXTURE_TEMPLATE = Path(__file__).parents[2] / "fixtures" / "local_stack" / "template.yaml"
T = TypeVar("T")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    settings = StackSettings(
        stack_name="fixture",
        sqs_wait_seconds=1,
        stream_poll_seconds=0.2,
    )
    with LocalStack(
        FIXTURE_TEMPLATE,
        port=0,
        function_env_overrides={"EXTRA_SETTING": "from-override"},
        settings=settings,
    ) as running:
        yield running


def eventually(probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(0.2)


def request(
    stack: LocalStack,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    url = stack.api_url + path  # always http://127.0.0.1:<port>
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def attempts(stack: LocalStack, key: str) -> int:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.physical_id("SeenTable"), Key={"pk": {"S": key}})
        .get("Item")
    )
    return int(item["attempts"]["N"]) if item else 0


def seen_record(stack: LocalStack, key: str) -> dict[str, Any] | None:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.physical_id("SeenTable"), Key={"pk": {"S": f"record#{key}"}})
        .get("Item")
    )
    return json.loads(item["record"]["S"]) if item else None


# ------------------------------------------------------------------------------------ resources


def test_resources_are_created_from_the_template(stack: LocalStack) -> None:
    dynamodb = stack.client("dynamodb")
    table = dynamodb.describe_table(TableName=stack.physical_id("ItemsTable"))["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["TableName"].startswith(f"{stack.settings.stack_name}-ItemsTable-")
    ttl = dynamodb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.physical_id("WorkQueue"), AttributeNames=["All"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=stack.physical_id("WorkDeadLetterQueue"), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert redrive == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    assert attributes["VisibilityTimeout"] == "1"
    fifo_url = stack.physical_id("OrdersFifoQueue")
    assert fifo_url.endswith(".fifo")
    fifo = sqs.get_queue_attributes(QueueUrl=fifo_url, AttributeNames=["All"])["Attributes"]
    assert fifo["FifoQueue"] == "true"

    secret = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.physical_id("AppCredentialsSecret")
    )
    assert secret["Name"] == f"{stack.settings.stack_name}/dev/app-credentials"
    document = json.loads(secret["SecretString"])
    assert document["app_key"] == "replace-me"
    assert len(document["app_secret"]) == 24 and document["app_secret"].isalnum()

    parameter = stack.client("ssm").get_parameter(Name=f"/{stack.settings.stack_name}/config")
    assert parameter["Parameter"]["Value"] == "dev,b"
    buses = stack.client("events").list_event_buses()["EventBuses"]
    assert f"{stack.settings.stack_name}-domain" in {bus["Name"] for bus in buses}

    info = stack.ready_info
    assert info["resources"]["WorkQueue"] == stack.physical_id("WorkQueue")
    assert info["resources"]["HttpApi"] == stack.api_url
    assert "FunctionLogGroup" not in info["resources"]  # not run locally, but referenced fine
    assert stack.outputs["WorkQueueUrl"] == stack.physical_id("WorkQueue")
    status, _, body = request(stack, "GET", "/_local/ready")
    assert (status, json.loads(body)) == (200, info)


# ------------------------------------------------------------------------------------ HTTP API


def test_json_body_arrives_as_text_in_a_v2_event(stack: LocalStack) -> None:
    status, headers, body = request(
        stack,
        "POST",
        "/echo?a=1&a=2&b=x",
        b'{"hello": "world"}',
        {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "X-Multi": "one"},
    )
    assert status == 201
    assert headers["x-echo"] == "yes"
    assert headers["set-cookie"] == "seen=1; Path=/"
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-multi"] == "one"
    assert "cookie" not in event["headers"]
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/echo"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["stage"] == "$default"
    assert context["routeKey"] == "POST /echo"
    assert context["apiId"] == stack.physical_id("HttpApi")
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60


def test_binary_or_untyped_body_arrives_base64(stack: LocalStack) -> None:
    payload = bytes(range(256))
    _, _, body = request(
        stack, "POST", "/echo", payload, {"Content-Type": "application/octet-stream"}
    )
    event = json.loads(body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload

    conn = http.client.HTTPConnection("127.0.0.1", int(stack.api_url.rsplit(":", 1)[1]), timeout=10)
    conn.request("POST", "/echo", body=b"plain words")  # no content type at all
    event = json.loads(conn.getresponse().read())
    conn.close()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"plain words"


def test_invalid_utf8_under_a_text_type_arrives_base64_and_intact(stack: LocalStack) -> None:
    # A signature covers the raw bytes: rewriting them (errors="replace") would turn a correctly
    # signed delivery into a 401 locally.
    payload = b'{"note": "caf\xe9 \xff"}'
    _, _, body = request(stack, "POST", "/echo", payload, {"Content-Type": "application/json"})
    event = json.loads(body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload

    _, _, body = request(stack, "POST", "/legacy/bob", payload, {"Content-Type": "text/plain"})
    event = json.loads(body)  # payload format 1.0 (REST API) keeps the bytes the same way
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def raw_post(stack: LocalStack, content_length: str) -> tuple[int, bytes]:
    """POST with a hand-written Content-Length; reads until the server closes the connection."""
    port = int(stack.api_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + content_length.encode() + b"\r\n\r\n{}"
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("value", ["-1", "abc", " -5 ", "+2", "1e3"])
def test_malformed_content_length_is_a_400_not_a_crash_or_a_hang(
    stack: LocalStack, value: str
) -> None:
    assert raw_post(stack, value) == (400, b'{"message": "Bad Request"}')


def test_path_parameters_and_get_without_body(stack: LocalStack) -> None:
    status, _, body = request(stack, "GET", "/orders/A%2042?expand=items")
    assert status == 201
    event = json.loads(body)
    assert event["routeKey"] == "GET /orders/{id}"
    assert event["pathParameters"] == {"id": "A 42"}
    assert event["queryStringParameters"] == {"expand": "items"}
    assert "body" not in event


def test_plain_return_value_becomes_200_json(stack: LocalStack) -> None:
    status, headers, body = request(stack, "GET", "/plain")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"hello": "world"}


def test_rest_api_and_v1_routes_get_payload_1_0_events(stack: LocalStack) -> None:
    status, _, body = request(
        stack, "POST", "/legacy/bob?x=1&x=2", b"raw words", {"Content-Type": "text/plain"}
    )
    assert status == 201
    event = json.loads(body)
    assert event["resource"] == "/legacy/{name}"
    assert event["path"] == "/legacy/bob"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"name": "bob"}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["body"] == "raw words"
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "Prod"
    assert event["requestContext"]["resourcePath"] == "/legacy/{name}"

    status, _, body = request(stack, "GET", "/v1?a=b")
    event = json.loads(body)
    assert (status, event["version"], event["requestContext"]["stage"]) == (201, "1.0", "$default")
    assert event["body"] is None


def test_unknown_route_crash_and_oversize_answer_like_api_gateway(stack: LocalStack) -> None:
    assert request(stack, "GET", "/nowhere")[::2] == (404, b'{"message": "Not Found"}')
    assert request(stack, "GET", "/echo")[0] == 404  # route exists for POST only
    status, _, body = request(stack, "DELETE", "/crash")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})

    conn = http.client.HTTPConnection("127.0.0.1", int(stack.api_url.rsplit(":", 1)[1]), timeout=10)
    conn.putrequest("POST", "/echo")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()


# ------------------------------------------------------------------------------------ functions


def test_each_function_has_its_own_environment_and_container(stack: LocalStack) -> None:
    first_a = stack.invoke("EnvAFunction", {}).payload
    second_a = stack.invoke("EnvAFunction", {}).payload
    only_b = stack.invoke("EnvBFunction", {}).payload

    assert first_a["env"]["FUNCTION_ROLE"] == "a" and only_b["env"]["FUNCTION_ROLE"] == "b"
    assert first_a["env"]["QUEUE_URL"] == stack.physical_id("WorkQueue")
    assert first_a["env"]["STREAM_ARN"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/")
    assert only_b["env"]["QUEUE_URL"] is None
    for report in (first_a, only_b):
        assert report["env"]["GLOBAL_FLAG"] == "dev-flag"
        assert report["env"]["EXTRA_SETTING"] == "from-override"
        assert report["env"]["AWS_ENDPOINT_URL"] == stack.endpoint_url
        assert report["env"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert (first_a["invocations"], second_a["invocations"], only_b["invocations"]) == (1, 2, 1)
    assert first_a["pid"] == second_a["pid"] != only_b["pid"]

    name_b = stack.physical_id("EnvBFunction")
    assert only_b["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name_b
    assert only_b["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    context = only_b["context"]
    assert context["function_name"] == name_b
    assert context["memory_limit_in_mb"] == 256
    assert (
        context["invoked_function_arn"]
        == f"arn:aws:lambda:us-east-1:123456789012:function:{name_b}"
    )
    # Timeout: 3 from Globals. Only an upper bound on the wall clock: how much of the 3 s is
    # left when the handler asks depends on how loaded the machine is.
    assert stack.workers["EnvBFunction"].spec.timeout_seconds == 3
    assert 0 < context["remaining_ms"] <= 3000
    assert uuid.UUID(context["aws_request_id"])


def test_timeout_kills_the_invocation_and_restarts_the_worker(stack: LocalStack) -> None:
    before = stack.invoke("SlowFunction", {"sleep": 0})
    started = time.monotonic()
    stuck = stack.invoke("SlowFunction", {"sleep": 30})
    elapsed = time.monotonic() - started
    after = stack.invoke("SlowFunction", {"sleep": 0})

    assert before.ok and after.ok
    assert not stuck.ok
    assert stuck.error is not None and stuck.error["errorType"] == "Sandbox.Timedout"
    # Timeout: 1, not the 30 s the handler asked for. A generous bound: a loaded machine may
    # take seconds to kill and respawn, but never the 30 s the handler wanted.
    assert elapsed < 20
    assert stuck.error["errorMessage"] == "Task timed out after 1.00 seconds"
    assert after.payload["pid"] != before.payload["pid"]
    assert stack.workers["SlowFunction"].restarts == 1


def test_handler_exception_is_an_invocation_error(stack: LocalStack) -> None:
    result = stack.invoke("CrashFunction", {"routeKey": "x"})
    assert not result.ok
    assert result.error is not None
    assert (result.error["errorType"], result.error["errorMessage"]) == (
        "RuntimeError",
        "fixture crash",
    )
    assert stack.invoke("CrashFunction", {}).error is not None  # the worker survives


# ------------------------------------------------------------------------------------ mappings


def test_sqs_partial_batch_failure_deletes_successes_and_dead_letters_the_failure(
    stack: LocalStack,
) -> None:
    sqs = stack.client("sqs")
    sqs.send_message_batch(
        QueueUrl=stack.physical_id("WorkQueue"),
        Entries=[
            {"Id": "1", "MessageBody": "ok-1"},
            {"Id": "2", "MessageBody": "fail-1"},
            {"Id": "3", "MessageBody": "ok-2"},
        ],
    )
    dlq_url = stack.physical_id("WorkDeadLetterQueue")

    def dead_lettered() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])

    dead = eventually(dead_lettered, timeout=20)
    assert [message["Body"] for message in dead] == ["fail-1"]
    # Successes were deleted after one delivery; the failure came back until maxReceiveCount.
    assert attempts(stack, "sqs#ok-1") == 1
    assert attempts(stack, "sqs#ok-2") == 1
    assert attempts(stack, "sqs#fail-1") == 2
    record = seen_record(stack, "sqs#ok-1")
    assert record is not None
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.resources["WorkQueue"].attributes["Arn"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["receiptHandle"] and record["md5OfBody"]
    left = sqs.get_queue_attributes(
        QueueUrl=stack.physical_id("WorkQueue"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert left == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_stream_delivers_new_images_and_retries_from_the_failed_item(stack: LocalStack) -> None:
    dynamodb = stack.client("dynamodb")
    table = stack.physical_id("ItemsTable")
    for key, fail_times in (("A", 0), ("B", 1), ("C", 0)):
        dynamodb.put_item(
            TableName=table, Item={"pk": {"S": key}, "fail_times": {"N": str(fail_times)}}
        )

    # A sentinel written after C: the shard is read in order and nothing after B fails, so once
    # the sentinel is through, any repeat delivery of A or C would already have happened.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "after-ABC"}})
    eventually(lambda: attempts(stack, "stream#after-ABC"))
    # A was checkpointed before B failed; the retry started at B, so C ran once, after B's retry.
    assert [attempts(stack, f"stream#{key}") for key in "ABC"] == [1, 2, 1]


def test_stream_record_has_the_lambda_shape(stack: LocalStack) -> None:
    stack.client("dynamodb").put_item(
        TableName=stack.physical_id("ItemsTable"), Item={"pk": {"S": "S1"}, "size": {"N": "3"}}
    )
    record = eventually(lambda: seen_record(stack, "stream#S1"))
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventID"]
    assert record["eventSourceARN"] == stack.resources["ItemsTable"].attributes["StreamArn"]
    change = record["dynamodb"]
    assert change["StreamViewType"] == "NEW_IMAGE"
    assert change["Keys"] == {"pk": {"S": "S1"}}
    assert change["NewImage"] == {"pk": {"S": "S1"}, "size": {"N": "3"}}
    assert change["SequenceNumber"].isdigit()
    assert abs(change["ApproximateCreationDateTime"] - time.time()) < 120


def test_stream_poison_item_goes_to_the_on_failure_queue_after_retries(stack: LocalStack) -> None:
    # Its own table and mapping: the poison record blocks only this shard while it is retried.
    stack.client("dynamodb").put_item(
        TableName=stack.physical_id("PoisonItemsTable"),
        Item={"pk": {"S": "P"}, "poison": {"BOOL": True}},
    )
    sqs = stack.client("sqs")
    url = stack.physical_id("PoisonFailureQueue")
    messages = eventually(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []), timeout=20
    )
    failure = json.loads(messages[0]["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"].endswith(
        stack.physical_id("PoisonConsumerFunction")
    )
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stack.resources["PoisonItemsTable"].attributes["StreamArn"]
    assert attempts(stack, "stream#P") == 3  # first try + MaximumRetryAttempts: 2


# ------------------------------------------------------------------------------------ schedules


def test_fire_schedule_now_sends_scheduled_event_or_input(stack: LocalStack) -> None:
    rules = {
        rule: stack.resources[rule].properties["ScheduleExpression"] for rule in stack.schedules
    }
    nightly = next(rule for rule, expression in rules.items() if expression.startswith("cron"))
    hourly = next(rule for rule, expression in rules.items() if expression.startswith("rate"))

    [result] = stack.fire_schedule(nightly)
    event = result["payload"]["received"]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [stack.resources[nightly].attributes["Arn"]]
    assert event["detail"] == {}

    status, _, body = request(stack, "POST", f"/_local/schedules/{hourly}")
    assert status == 200
    assert json.loads(body)["results"][0]["payload"] == {"received": {"job": "hourly"}}
    assert request(stack, "POST", "/_local/schedules/NoSuchRule")[0] == 404

    weekly = next(name for name in stack.schedules if name.endswith("Weekly"))
    [result] = stack.fire_schedule(weekly)  # EventBridge Scheduler (ScheduleV2): Input verbatim
    assert result["payload"] == {"received": {"job": "weekly"}}
