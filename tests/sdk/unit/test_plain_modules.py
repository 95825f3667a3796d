"""Plain modules: policy wire text, configuration precedence, redaction, result helpers."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest

from agentbay._types.context_manager import ContextStatusData
from agentbay._types.filesystem import FileChangeEvent, FileChangeResult
from agentbay.config import Config, endpoint_url, resolve_settings
from agentbay.context_sync import (
    ContextSync,
    Lifecycle,
    RecyclePolicy,
    SyncPolicy,
    WhiteList,
    persistence_data_list,
)
from agentbay.logger import get_logger, redact, register_secret
from agentbay.session_params import BrowserContext, CreateSessionParams
from tests.sdk.contract.test_wire import POLICY_BODY


def test_persistence_data_list_is_the_official_clients_text() -> None:
    syncs = [
        ContextSync.new("ctx-user", "/home/user/data", SyncPolicy()),
        ContextSync("ctx-1", "/temp/file-transfer"),
    ]
    encoded = urlencode({"PersistenceDataList": persistence_data_list(syncs)})
    assert encoded in POLICY_BODY


def test_policies_validate_paths_and_lifecycle() -> None:
    with pytest.raises(ValueError):
        WhiteList(path="/data/*.txt")
    with pytest.raises(ValueError):
        RecyclePolicy(lifecycle="forever")  # type: ignore[arg-type]
    assert RecyclePolicy(Lifecycle.LIFECYCLE_1DAY).__dict__() == {
        "lifecycle": "Lifecycle_1Day",
        "paths": [""],
    }


def test_create_params_defaults_and_browser_extensions() -> None:
    from agentbay._types.extension import ExtensionOption

    params = CreateSessionParams()
    assert params.labels == {} and params.context_syncs == [] and params.is_vpc is False
    browser = BrowserContext("ctx-b", extension_option=ExtensionOption("ctx-e", ["ext_1.zip"]))
    params = CreateSessionParams(browser_context=browser)
    assert [s.path for s in params.context_syncs] == ["/tmp/extensions/"]


def test_config_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AGENTBAY_API_KEY", "AGENTBAY_ENDPOINT", "AGENTBAY_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text('export AGENTBAY_API_KEY="from-dotenv"\nAGENTBAY_TIMEOUT_MS=1234\n')
    settings = resolve_settings(None, None, str(env_file))
    assert (settings.api_key, settings.timeout_ms) == ("from-dotenv", 1234)
    assert settings.endpoint == "wuyingai.cn-shanghai.aliyuncs.com"
    monkeypatch.setenv("AGENTBAY_API_KEY", "from-env")
    assert resolve_settings(None, None, str(env_file)).api_key == "from-env"
    assert resolve_settings("from-arg", None, str(env_file)).api_key == "from-arg"
    explicit = resolve_settings("k", Config(endpoint="h:1", timeout_ms=5), str(env_file))
    assert (explicit.endpoint, explicit.timeout_ms) == ("h:1", 5)
    assert "from-arg" not in repr(resolve_settings("from-arg-key-123", None, None))


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGENTBAY_API_KEY", raising=False)
    monkeypatch.delenv("AGENTBAY_ENDPOINT", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="API key is required"):
        resolve_settings(None, None, None)
    assert resolve_settings(None, Config(endpoint="local", timeout_ms=1000), None).api_key == ""


def test_endpoint_urls() -> None:
    assert endpoint_url("wuyingai.cn-shanghai.aliyuncs.com") == (
        "https://wuyingai.cn-shanghai.aliyuncs.com"
    )
    assert endpoint_url("http://127.0.0.1:8790/") == "http://127.0.0.1:8790"


def test_redaction_of_keys_in_sdk_logs(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("akm-very-secret-0001")
    logger = get_logger("unit-test")
    with caplog.at_level(logging.INFO, logger="agentbay"):
        logger.info("key %s and form Authorization=Bearer+abc123", "akm-very-secret-0001")
    assert "akm-very-secret-0001" not in caplog.text and "abc123" not in caplog.text
    assert redact("Bearer xyz") == "Bearer ***"


def test_result_helpers() -> None:
    record = ContextStatusData.from_dict(
        {"contextId": "c", "path": "/p", "status": "Success", "startTime": 1, "taskType": "upload"}
    )
    assert (record.context_id, record.task_type, record.finish_time) == ("c", "upload", 0)
    events = [
        FileChangeEvent("create", "/a", "file"),
        FileChangeEvent("modify", "/b", "file"),
        FileChangeEvent("create", "/d", "directory"),
    ]
    result = FileChangeResult(success=True, events=events)
    assert result.has_changes()
    assert result.get_created_files() == ["/a"] and result.get_modified_files() == ["/b"]
    assert FileChangeEvent.from_dict(events[0].to_dict()) == events[0]
