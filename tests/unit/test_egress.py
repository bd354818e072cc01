"""Where a provider's API key may be sent: https only unless allow-listed, never to link-local or (unless
allow-listed) private addresses, checked when the settings are saved and again when the worker connects;
API-key secrets only of this stack."""

from __future__ import annotations

import socket

import pytest

from parley import config, egress
from parley.dal.data_sets import DataSetRepository

from .test_answer_settings import SETTINGS, SLA_QUESTION, ask, openai_settings
from .test_providers import completion, fake_openai  # noqa: F401  (fixture)

REAL_GETADDRINFO = socket.getaddrinfo


def resolving(monkeypatch, names: dict[str, str]) -> None:
    """DNS answers for test host names (other names resolve as usual)."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            family = socket.AF_INET6 if ":" in names[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def settings_with(base_url: str, secret: str = "parley/openai") -> dict:
    return {"provider": "openai", "model": "m", "base_url": base_url, "api_key_secret": secret}


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/latest/meta-data",  # the instance metadata service
        "https://169.254.169.254/v1",
        "https://[fe80::1]/v1",
        "https://[::ffff:169.254.169.254]/v1",
        "https://10.0.0.5/v1",
        "https://192.168.1.20/v1",
        "https://100.64.0.1/v1",
        "https://[fd00::1]/v1",
        "http://api.example.com/v1",  # plain http to a host that is not allow-listed
        "https://metadata.test/v1",  # a name that resolves to the metadata service
        "https://intranet.test/v1",  # a name that resolves to a private address
    ],
)
def test_settings_refuse_urls_the_key_may_not_go_to(admin, monkeypatch, base_url):
    resolving(monkeypatch, {"metadata.test": "169.254.169.254", "intranet.test": "10.1.2.3"})
    response = admin.patch(SETTINGS, settings_with(base_url))
    assert response.status == 422, response.json()
    assert [e["loc"][-1] for e in response.json()["detail"]] == ["base_url"]
    assert admin.get("/api/data_sets/1").json()["answer_settings"] == {"provider": "extractive"}


def test_settings_accept_public_https_and_allow_listed_http(admin, monkeypatch):
    resolving(monkeypatch, {"models.test": "93.184.215.14"})
    assert admin.patch(SETTINGS, settings_with("https://models.test/v1")).status == 200
    assert admin.patch(SETTINGS, settings_with("https://unresolvable.invalid/v1")).status == 200  # checked later
    assert admin.patch(SETTINGS, settings_with("http://127.0.0.1:11434/v1")).status == 200  # the local allow-list
    monkeypatch.setenv("PROVIDER_HTTP_HOSTS", "gpu.internal.test")
    config.reset()  # settings are read once per process
    resolving(monkeypatch, {"gpu.internal.test": "10.0.0.7"})
    assert admin.patch(SETTINGS, settings_with("http://gpu.internal.test:8000/v1")).status == 200
    assert admin.patch(SETTINGS, settings_with("http://127.0.0.1:11434/v1")).status == 422  # not listed now


def test_even_an_allow_listed_host_may_not_be_link_local(admin, monkeypatch):
    monkeypatch.setenv("PROVIDER_HTTP_HOSTS", "169.254.169.254,metadata.test")
    config.reset()  # settings are read once per process
    resolving(monkeypatch, {"metadata.test": "169.254.169.254"})
    for url in ("http://169.254.169.254/v1", "http://metadata.test/v1"):
        assert admin.patch(SETTINGS, settings_with(url)).status == 422


@pytest.mark.parametrize("secret", ["other-stack/openai", "parley", "parley/", "parleyx/key", "parley/../x"])
def test_secrets_outside_this_stacks_prefix_are_refused(admin, secret):
    response = admin.patch(SETTINGS, settings_with("https://93.184.215.14/v1", secret))
    assert response.status == 422
    assert [e["loc"][-1] for e in response.json()["detail"]] == ["api_key_secret"]


def test_the_worker_checks_the_address_again_when_it_connects(admin, drain, fake_openai, monkeypatch):
    """A name that was safe when saved and points at the metadata service now: no request is made."""
    fake_openai.replies = [(200, completion("Yes."))]
    monkeypatch.setenv("PROVIDER_HTTP_HOSTS", "127.0.0.1,model.test")
    config.reset()  # settings are read once per process
    port = fake_openai.server.server_address[1]
    resolving(monkeypatch, {"model.test": "127.0.0.1"})
    assert admin.patch(SETTINGS, openai_settings(fake_openai, base_url=f"http://model.test:{port}/v1")).status == 200
    resolving(monkeypatch, {"model.test": "169.254.169.254"})
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    status, notice = ask(admin, drain, conversation, SLA_QUESTION)
    assert status["state"] == "FAILURE" and status["error"]["code"] == "provider_error"
    assert "link-local" in status["error"]["message"] and notice["role"] == "system"
    assert fake_openai.requests == []


def test_the_worker_refuses_settings_saved_before_the_policy(admin, drain, fake_openai, cloud, monkeypatch):
    DataSetRepository().set_settings(
        1,
        {
            "provider": "openai",
            "model": "m",
            "api_key_secret": "TEST_OPENAI_KEY",
            "base_url": "http://169.254.169.254/latest",
        },
    )
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    status, _ = ask(admin, drain, conversation, SLA_QUESTION)
    assert status["state"] == "FAILURE" and "169.254.169.254" in status["error"]["message"]
    assert fake_openai.requests == []


def test_the_request_goes_to_the_checked_address_with_the_host_name_kept(admin, drain, fake_openai, monkeypatch):
    fake_openai.replies = [(200, completion("Yes, with a 99.9% availability SLA."))]
    monkeypatch.setenv("PROVIDER_HTTP_HOSTS", "model.test")
    config.reset()  # settings are read once per process
    port = fake_openai.server.server_address[1]
    resolving(monkeypatch, {"model.test": "127.0.0.1"})
    assert admin.patch(SETTINGS, openai_settings(fake_openai, base_url=f"http://model.test:{port}/v1")).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    ask(admin, drain, conversation, SLA_QUESTION)
    # the request reached the address checked (the server listens on 127.0.0.1 only), under the name
    assert fake_openai.requests and fake_openai.requests[0]["headers"]["Host"] == f"model.test:{port}"


def test_the_worker_never_reads_another_stacks_secret(monkeypatch):
    from parley.providers import ProviderError, secrets

    monkeypatch.setenv("PARLEY_SECRETS_BACKEND", "aws")
    monkeypatch.setenv("SECRETS_PREFIX", "parley/")
    config.reset()
    with pytest.raises(ProviderError, match="under parley/"):
        secrets.api_key("other-stack/openai")


def test_https_targets_keep_the_name_for_tls(monkeypatch):
    resolving(monkeypatch, {"models.test": "93.184.215.14"})
    target = egress.connect_target("https://models.test/v1/chat/completions")
    assert target.url == "https://93.184.215.14/v1/chat/completions"
    assert target.headers == {"Host": "models.test"} and target.extensions == {"sni_hostname": "models.test"}
