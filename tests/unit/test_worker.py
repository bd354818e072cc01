"""Worker guarantees under redelivery, crashes, failures and AWS errors, through SQS events."""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import ClientError

from parley import config
from parley.logic import worker as worker_logic


class Crash(Exception):
    """Stands for the Lambda runtime dying at a given line."""


def ask(api, question: str = "Does FiberUP Business Duplex include an SLA?") -> tuple[str, str]:
    conversation = api.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    task = api.post(f"/api/conversations/{conversation}", {"question_message": question}).json()["task_id"]
    return f"/api/conversations/{conversation}", task


def receive(cloud) -> list[dict]:
    import boto3

    return (
        boto3.client("sqs")
        .receive_message(QueueUrl=cloud.pump.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
        .get("Messages", [])
    )


def invoke(cloud, messages: list[dict], receive_count: int | None = None) -> dict:
    """Invoke the worker as the SQS event source does. When every record fails, Powertools raises, and
    Lambda then returns the whole batch to the queue: reported here as every record failed."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    event = cloud.pump.event_for(messages)
    if receive_count is not None:
        for record in event["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    try:
        return cloud.pump.pool.invoke(event)
    except BatchProcessingError:
        return {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}


def agent_messages(api, path: str) -> list[dict]:
    return [m for m in api.get(path).json()["history"] if m["role"] != "user"]


def test_the_same_record_twice_in_sequence_gives_one_answer(cloud, user):
    path, task = ask(user)
    messages = receive(cloud)
    assert invoke(cloud, messages) == {"batchItemFailures": []}
    assert invoke(cloud, messages) == {"batchItemFailures": []}
    assert len(agent_messages(user, path)) == 1
    assert user.get(f"/api/task_status/{task}").json()["state"] == "SUCCESS"


def test_the_same_record_delivered_concurrently_gives_one_answer(cloud, user):
    path, task = ask(user)
    messages = receive(cloud)
    results = []
    threads = [threading.Thread(target=lambda: results.append(invoke(cloud, messages))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    answers = agent_messages(user, path)
    assert len(answers) == 1 and answers[0]["role"] == "agent"
    assert user.get(f"/api/task_status/{task}").json()["state"] == "SUCCESS"


CRASH_POINTS = {
    "after reading": ("parley.logic.worker.DataSetRepository.get", "before"),
    "after the engine returns": ("parley.logic.worker.transact", "before"),
    "after writing the answer and marking SUCCESS, before the ack": ("parley.logic.worker.transact", "after"),
    "after starting the task": ("parley.logic.worker.ConversationRepository.read", "before"),
}


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
def test_a_crash_at_any_step_then_redelivery_ends_with_one_answer_and_success(point, cloud, user, monkeypatch):
    target, when = CRASH_POINTS[point]
    module_path, _, attr = target.rpartition(".")
    owner = __import__("importlib").import_module(module_path) if module_path.count(".") == 2 else None
    if owner is None:  # a method on a class inside the module
        module_name, cls_name = module_path.rsplit(".", 1)
        owner = getattr(__import__("importlib").import_module(module_name), cls_name)
    original = getattr(owner, attr)

    def crashing(*args, **kwargs):
        if when == "after":
            original(*args, **kwargs)
        raise Crash(point)

    path, task = ask(user)
    messages = receive(cloud)
    monkeypatch.setattr(owner, attr, crashing)
    failed = invoke(cloud, messages, receive_count=1)
    assert failed["batchItemFailures"] == [{"itemIdentifier": messages[0]["MessageId"]}]
    monkeypatch.setattr(owner, attr, original)
    assert invoke(cloud, messages, receive_count=2) == {"batchItemFailures": []}
    assert len(agent_messages(user, path)) == 1
    assert user.get(f"/api/task_status/{task}").json()["state"] == "SUCCESS"


def test_engine_errors_are_retried_then_fail_with_code_and_notice_on_the_last_try(cloud, user, monkeypatch):
    monkeypatch.setenv("JOB_MAX_TRIES", "3")
    config.reset()

    class BrokenEngine:
        def answer(self, *args):
            raise worker_logic.JobError("provider_error", "The language model failed.")

    monkeypatch.setattr(worker_logic, "engine_for", lambda data_set, not_after=None: BrokenEngine())
    path, task = ask(user)
    messages = receive(cloud)
    for attempt in (1, 2):
        assert invoke(cloud, messages, receive_count=attempt)["batchItemFailures"]
        assert user.get(f"/api/task_status/{task}").json()["state"] == "PENDING"
    assert invoke(cloud, messages, receive_count=3) == {"batchItemFailures": []}  # settled, so done with
    status = user.get(f"/api/task_status/{task}").json()
    assert status["state"] == "FAILURE"
    assert status["error"] == {"code": "provider_error", "message": "The language model failed."}
    history = user.get(path).json()["history"]
    assert [m["role"] for m in history] == ["user", "system"]
    assert history[1]["text"] == "The language model failed."


def test_unexpected_errors_fail_with_a_generic_code_and_no_internals(cloud, user, monkeypatch):
    monkeypatch.setenv("JOB_MAX_TRIES", "1")
    config.reset()

    class BrokenEngine:
        def answer(self, *args):
            raise KeyError("secret internal detail")

    monkeypatch.setattr(worker_logic, "engine_for", lambda data_set, not_after=None: BrokenEngine())
    _, task = ask(user)
    invoke(cloud, receive(cloud), receive_count=1)
    status = user.get(f"/api/task_status/{task}").json()
    assert status["state"] == "FAILURE" and status["error"]["code"] == "internal_error"
    assert "secret" not in json.dumps(status)


def test_one_bad_record_does_not_fail_its_batch_mates(cloud, user, monkeypatch):
    _first_path, _ = ask(user, "Does FiberUP Business Duplex include an SLA?")
    second_path, _ = ask(user, "What are the roaming charges outside the EU?")
    messages = receive(cloud)
    assert len(messages) == 2
    poisoned = dict(messages[0], Body="not json at all")
    real = worker_logic.engine_for

    result = invoke(cloud, [poisoned, messages[1]])
    assert result == {"batchItemFailures": []}  # a non-JSON job is dropped (logged), not retried forever
    assert len(agent_messages(user, second_path)) == 1

    _, failing_task = ask(user, "Which mobile plans include 5G?")
    other_path, _ = ask(user, "How do I cancel my contract?")
    batch = receive(cloud)

    class FailsOnFiveG:
        def __init__(self, engine):
            self.engine = engine

        def answer(self, question, history, knowledge, listener=None):
            if "5G" in question:
                raise RuntimeError("boom")
            return self.engine.answer(question, history, knowledge, listener)

    monkeypatch.setattr(
        worker_logic, "engine_for", lambda data_set, not_after=None: FailsOnFiveG(real(data_set, not_after))
    )
    result = invoke(cloud, batch, receive_count=1)
    failing = [m["MessageId"] for m in batch if json.loads(m["Body"])["task_id"] == failing_task]
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == failing
    assert len(agent_messages(user, other_path)) == 1


def test_a_failed_enqueue_is_a_503_and_the_task_is_failed_not_pending(cloud, user, monkeypatch):
    from parley.dal import jobs

    def unavailable(*args, **kwargs):
        raise ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "down"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
            "SendMessage",
        )

    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    monkeypatch.setattr(jobs.aws.client("sqs"), "send_message", unavailable)
    response = user.post(f"/api/conversations/{conversation}", {"question_message": "hello?"})
    assert response.status == 503 and response.headers.get("retry-after")
    history = user.get(f"/api/conversations/{conversation}").json()["history"]
    assert [m["role"] for m in history] == ["user", "system"]
    import boto3

    tasks = boto3.client("dynamodb").scan(TableName=cloud.environment()["TASKS_TABLE"])["Items"]
    assert [t["state"]["S"] for t in tasks] == ["FAILURE"]
    assert tasks[0]["error"]["M"]["code"]["S"] == "enqueue_failed"


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"]
)
def test_exhausted_dynamodb_retries_surface_as_503_with_retry_after(code, cloud, user, monkeypatch):
    from parley import aws

    calls = []

    def throttled(*args, **kwargs):
        calls.append(1)
        raise ClientError(
            {
                "Error": {"Code": code, "Message": "slow down"},
                "ResponseMetadata": {"HTTPStatusCode": 400 if "Exception" in code else 500},
            },
            "Query",
        )

    monkeypatch.setattr(aws.client("dynamodb"), "query", throttled)
    response = user.get("/api/conversations")
    assert response.status == 503
    assert response.headers["retry-after"] == "2" and "retry" in response.json()["detail"]


def test_clients_use_botocore_standard_retries(cloud):
    from parley import aws

    client = aws.client("dynamodb")
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] >= 3


def test_a_slow_turn_in_one_conversation_does_not_hold_up_another_in_the_same_batch(cloud, user, monkeypatch):
    slow_path, _ = ask(user, "Does FiberUP Business Duplex include an SLA?")
    fast_path, _ = ask(user, "What are the roaming charges outside the EU?")
    batch = receive(cloud)
    assert len(batch) == 2 and batch[0]["Attributes"]["MessageGroupId"] != batch[1]["Attributes"]["MessageGroupId"]
    real = worker_logic.engine_for
    fast_answered = threading.Event()
    waited = []

    class SlowUntilTheOtherIsAnswered:
        def __init__(self, engine):
            self.engine = engine

        def answer(self, question, history, knowledge, listener=None):
            if question.startswith("Does FiberUP"):
                waited.append(fast_answered.wait(timeout=20))  # a long model call, in effect
            else:
                fast_answered.set()
            return self.engine.answer(question, history, knowledge, listener)

    monkeypatch.setattr(
        worker_logic,
        "engine_for",
        lambda data_set, not_after=None: SlowUntilTheOtherIsAnswered(real(data_set, not_after)),
    )
    assert invoke(cloud, batch) == {"batchItemFailures": []}
    assert waited == [True]  # the fast conversation was answered while the slow one was still working
    assert len(agent_messages(user, slow_path)) == 1 and len(agent_messages(user, fast_path)) == 1


def test_within_one_conversation_a_failure_fails_the_later_records_to_keep_order(cloud, user, monkeypatch):
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    path = f"/api/conversations/{conversation}"
    for question in ("first?", "second?"):
        user.post(path, {"question_message": question})
    batch = receive(cloud)
    assert len(batch) == 2
    real = worker_logic.engine_for

    class FailsFirst:
        def __init__(self, engine):
            self.engine = engine

        def answer(self, question, history, knowledge, listener=None):
            if question == "first?":
                raise RuntimeError("transient")
            return self.engine.answer(question, history, knowledge, listener)

    monkeypatch.setattr(
        worker_logic, "engine_for", lambda data_set, not_after=None: FailsFirst(real(data_set, not_after))
    )
    failed = invoke(cloud, batch, receive_count=1)["batchItemFailures"]
    assert [f["itemIdentifier"] for f in failed] == [m["MessageId"] for m in batch]
    assert agent_messages(user, path) == []  # the second was not answered before the first


def test_dynamodb_throttling_is_retried_by_botocore_then_succeeds(cloud, user):
    """Two throttled answers on the wire, then the real one: the client sees a normal 200."""
    from botocore.awsrequest import AWSResponse

    from parley import aws

    attempts = []

    class Raw:
        def __init__(self, body: bytes):
            self.body = body

        def stream(self, **kwargs):
            yield self.body

    def throttle_twice(request, **kwargs):
        attempts.append(1)
        if len(attempts) <= 2:
            body = json.dumps(
                {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}
            ).encode()
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, Raw(body))
        return None

    client = aws.client("dynamodb")
    client.meta.events.register_first("before-send.dynamodb.Query", throttle_twice)
    try:
        response = user.get("/api/conversations")
    finally:
        client.meta.events.unregister("before-send.dynamodb.Query", throttle_twice)
    assert response.status == 200 and response.json() == {"results": [], "next_cursor": None}
    assert len(attempts) == 3


def queue_attributes(cloud, **attributes: str) -> None:
    import boto3

    boto3.client("sqs").set_queue_attributes(QueueUrl=cloud.pump.queue_url, Attributes=attributes)


def test_the_retry_delay_grows_exponentially_with_jitter_and_stays_under_the_visibility_timeout():
    from parley.batch import RETRY_MAX_SECONDS, retry_delay

    for tries in range(1, 12):
        step = min(RETRY_MAX_SECONDS, 5 * 2 ** (tries - 1))
        delays = {retry_delay(tries) for _ in range(200)}
        assert min(delays) >= step // 2 and max(delays) <= step and len(delays) > 1
    from parley_local.template import Stack

    assert Stack().resources["JobsQueue"]["Properties"]["VisibilityTimeout"] > RETRY_MAX_SECONDS


def test_a_failed_group_comes_back_after_its_backoff_not_the_visibility_timeout(cloud, user, monkeypatch):
    """The failed record and the untried one behind it get the retry delay (0 here) by
    ChangeMessageVisibility; without it they would stay hidden for the queue's 540 s."""
    from parley import batch

    queue_attributes(cloud, VisibilityTimeout="540")
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    path = f"/api/conversations/{conversation}"
    for question in ("first?", "second?"):
        user.post(path, {"question_message": question})
    monkeypatch.setattr(batch, "retry_delay", lambda tries: 0)
    real = worker_logic.engine_for
    failures = []

    class FailsFirstOnce:
        def __init__(self, engine):
            self.engine = engine

        def answer(self, question, history, knowledge, listener=None):
            if question == "first?" and not failures:
                failures.append(question)
                raise RuntimeError("transient")
            return self.engine.answer(question, history, knowledge, listener)

    monkeypatch.setattr(
        worker_logic, "engine_for", lambda data_set, not_after=None: FailsFirstOnce(real(data_set, not_after))
    )
    assert cloud.pump.drain_once(0) == 2  # both received, the first failed, the second was not tried
    assert agent_messages(user, path) == []
    assert cloud.pump.drain_once(0) == 2  # back at once, in order
    assert [m["role"] for m in user.get(path).json()["history"]] == ["user", "agent", "user", "agent"]


def test_a_question_behind_one_that_fails_every_try_is_still_answered(cloud, user, monkeypatch):
    """Its receives are spent with each try of the one ahead; its own tries are not."""
    from parley import batch

    monkeypatch.setenv("JOB_MAX_TRIES", "3")
    config.reset()
    queue_attributes(
        cloud,
        RedrivePolicy=json.dumps(
            {
                "deadLetterTargetArn": cloud.physical["JobsDeadLetterQueue"]["Arn"],
                "maxReceiveCount": cloud.stack.parameter_default("JobMaxReceiveCount"),
            }
        ),
    )
    monkeypatch.setattr(batch, "retry_delay", lambda tries: 0)
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    path = f"/api/conversations/{conversation}"
    first = user.post(path, {"question_message": "first?"}).json()["task_id"]
    second = user.post(path, {"question_message": "second?"}).json()["task_id"]
    real = worker_logic.engine_for

    class FailsFirst:
        def __init__(self, engine):
            self.engine = engine

        def answer(self, question, history, knowledge, listener=None):
            if question == "first?":
                raise worker_logic.JobError("provider_error", "The language model failed.")
            return self.engine.answer(question, history, knowledge, listener)

    monkeypatch.setattr(
        worker_logic, "engine_for", lambda data_set, not_after=None: FailsFirst(real(data_set, not_after))
    )
    rounds = 0
    while cloud.pump.drain_once(0):
        rounds += 1
        assert rounds < 10
    assert user.get(f"/api/task_status/{first}").json()["state"] == "FAILURE"
    assert user.get(f"/api/task_status/{second}").json()["state"] == "SUCCESS"
    assert [m["role"] for m in user.get(path).json()["history"]] == ["user", "system", "user", "agent"]
    import boto3

    dead = boto3.client("sqs").receive_message(QueueUrl=cloud.physical["JobsDeadLetterQueue"]["Ref"])
    assert dead.get("Messages", []) == []  # nothing settled or untried went to the dead-letter queue


def test_token_metrics_of_groups_answered_side_by_side_keep_their_own_dimensions(monkeypatch, capsys):
    """Threads of one worker instance emit at the same time: each document names its own data set."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Parley")
    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleavings a busy worker would see
    start = threading.Barrier(8)

    def emit(data_set_id: int) -> None:
        data_set = {"id": data_set_id, "answer_settings": {"provider": "openai", "model": f"model-{data_set_id}"}}
        start.wait()
        for _ in range(30):
            worker_logic.record_usage(data_set, data_set_id * 100, data_set_id)

    threads = [threading.Thread(target=emit, args=(i,)) for i in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.setswitchinterval(interval)
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    documents = [d for d in documents if "InputTokens" in d]
    assert len(documents) == 8 * 30
    for document in documents:
        data_set_id = int(document["data_set_id"])
        assert document["model"] == f"model-{data_set_id}"
        values = {
            name: document[name] if isinstance(document[name], list) else [document[name]]
            for name in ("InputTokens", "OutputTokens")
        }
        assert values == {"InputTokens": [data_set_id * 100], "OutputTokens": [data_set_id]}
        dimensions = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert len(dimensions) == 1 and set(dimensions[0]) - {"service"} == {"data_set_id", "model"}
