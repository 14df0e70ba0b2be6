from pathlib import Path

import pytest

from scalper.config import load_config, load_secrets
from scalper.config.secrets import Secret
from scalper.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scalper.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file_and_are_paper_trading() -> None:
    config = load_config(env={})
    assert config.broker.kind == "sim"
    assert config.broker.live is False
    assert config.database.url is None


def test_file_values_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[feed]\nprovider = "polygon"\nstall_after_s = 30\n')
    config = load_config(path, env={})
    assert config.feed.provider == "polygon"
    assert config.feed.stall_after_s == 30.0
    assert config.feed.rest_base() == "https://api.polygon.io"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[feed]\nstall_after_s = 30\n")
    config = load_config(path, env={"SCALPER_FEED__STALL_AFTER_S": "45", "SCALPER_FEED__PROXY_SYMBOLS": '["SPY"]'})
    assert config.feed.stall_after_s == 45.0
    assert config.feed.proxy_symbols == ("SPY",)


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[writer]\nbatch_rows = 1234\n")
    assert load_config(env={"SCALPER_CONFIG": str(path)}).writer.batch_rows == 1234


def test_unknown_key_in_file_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[feed]\nstal_after_s = 30\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "feed.stal_after_s" in str(info.value)
    assert str(path) in str(info.value)
    assert "unknown key" in str(info.value)


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="brokr"):
        load_config(write(tmp_path, "[brokr]\nkind = 'sim'\n"), env={})


def test_bad_value_names_key_value_source_and_expectation() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"SCALPER_FEED__STALL_AFTER_S": "soon"})
    message = str(info.value)
    assert "feed.stall_after_s" in message
    assert "SCALPER_FEED__STALL_AFTER_S" in message
    assert "'soon'" in message
    assert "number" in message


def test_out_of_range_and_bad_choice_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"writer\.batch_rows .*0"):
        load_config(write(tmp_path, "[writer]\nbatch_rows = 0\n"), env={})
    with pytest.raises(ConfigError, match=r"broker\.kind .*'ib'"):
        load_config(env={"SCALPER_BROKER__KIND": "ib"})


def test_invalid_toml_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[feed\n"), env={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


@pytest.mark.parametrize("text", ['[feed]\napi_key = "abc"\n', '[alerts]\nwebhook_url = "https://x"\n'])
def test_secrets_in_the_file_are_refused_without_echoing_them(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert "secrets are not read from the config file" in str(info.value)
    assert "abc" not in str(info.value) and "https://x" not in str(info.value)


def test_database_url_with_password_in_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "postgresql://u:hunter2@db/x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "SCALPER_DATABASE_URL" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_secrets_come_from_environment_and_files(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    secrets = load_secrets({"POLYGON_API_KEY": "from-env", "APCA_API_KEY_ID_FILE": str(key_file)})
    assert secrets.market_data_api_key is not None
    assert secrets.market_data_api_key.reveal() == "from-env"
    assert secrets.broker_key_id is not None and secrets.broker_key_id.reveal() == "from-file"
    assert secrets.discord_webhook_url is None


def test_massive_key_is_preferred_over_polygon_key() -> None:
    secrets = load_secrets({"POLYGON_API_KEY": "old", "MASSIVE_API_KEY": "new"})
    assert secrets.market_data_api_key is not None and secrets.market_data_api_key.reveal() == "new"


def test_missing_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MASSIVE_API_KEY_FILE: cannot read secret file"):
        load_secrets({"MASSIVE_API_KEY_FILE": str(tmp_path / "missing")})


def test_secret_never_shows_its_value() -> None:
    secret = Secret("s3cr3t-value")
    secrets = load_secrets({"MASSIVE_API_KEY": "s3cr3t-value"})
    for text in (repr(secret), str(secret), f"{secret}", repr(secrets), str(secrets)):
        assert "s3cr3t-value" not in text


def test_rest_base_follows_a_local_websocket_override() -> None:
    config = load_config(env={"SCALPER_FEED__WS_URL": "ws://127.0.0.1:8765"})
    assert config.feed.rest_base() == "http://127.0.0.1:8765"
    assert config.feed.websocket_base() == "ws://127.0.0.1:8765"
    assert load_config(env={}).feed.rest_base() == "https://api.massive.com"
    assert load_config(env={"SCALPER_FEED__WS_URL": "wss://x.test"}).feed.rest_base() == "https://x.test"
