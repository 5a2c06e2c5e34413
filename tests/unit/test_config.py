"""Configuration: env and TOML, defaults, secrets masked, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from federatie.config import Environment, FederationMode, load_config
from federatie.errors import ConfigError

BASE = {"FEDERATIE_DOMAIN": "gov-a.example"}


def test_defaults_are_safe() -> None:
    config = load_config(BASE)
    assert config.env is Environment.PRODUCTION
    assert config.base_url == "https://gov-a.example"
    assert config.authorized_fetch is True
    assert config.federation_mode is FederationMode.OPEN
    assert config.max_inbox_bytes == 1024 * 1024
    assert config.database_url is None
    assert config.organisation_name == "gov-a.example"


def test_development_allows_loopback_with_port() -> None:
    config = load_config({"FEDERATIE_DOMAIN": "127.0.0.1:8001", "FEDERATIE_ENV": "development"})
    assert config.base_url == "http://127.0.0.1:8001"


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({}, "FEDERATIE_DOMAIN"),
        ({"FEDERATIE_DOMAIN": "127.0.0.1:8001"}, "FEDERATIE_DOMAIN"),
        ({"FEDERATIE_DOMAIN": "gov.example/path"}, "FEDERATIE_DOMAIN"),
        ({"FEDERATIE_DOMAIN": "user@gov.example"}, "FEDERATIE_DOMAIN"),
        ({"FEDERATIE_DOMAIN": "gov.example:99999"}, "FEDERATIE_DOMAIN"),
        ({**BASE, "FEDERATIE_ENV": "staging"}, "FEDERATIE_ENV"),
        ({**BASE, "FEDERATIE_FEDERATION_MODE": "closed"}, "FEDERATIE_FEDERATION_MODE"),
        ({**BASE, "FEDERATIE_AUTHORIZED_FETCH": "maybe"}, "FEDERATIE_AUTHORIZED_FETCH"),
        ({**BASE, "FEDERATIE_MAX_INBOX_BYTES": "lots"}, "FEDERATIE_MAX_INBOX_BYTES"),
        ({**BASE, "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({**BASE, "FEDERATIE_CA_BUNDLE": "/nonexistent.pem"}, "FEDERATIE_CA_BUNDLE"),
    ],
)
def test_bad_configuration_names_the_setting(environ: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ)
    assert caught.value.message.startswith(setting)
    assert "\n" not in caught.value.message


def test_toml_file_and_env_override(tmp_path: Path) -> None:
    path = tmp_path / "federatie.toml"
    path.write_text('domain = "from-file.example"\ninstance_name = "Waterschap"\n')
    config = load_config({"FEDERATIE_INSTANCE_NAME": "From env"}, config_file=path)
    assert config.domain == "from-file.example"
    assert config.instance_name == "From env"


def test_toml_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "federatie.toml"
    path.write_text('domian = "typo.example"\n')
    with pytest.raises(ConfigError, match="unknown setting 'domian'"):
        load_config({}, config_file=path)


def test_secrets_are_masked() -> None:
    config = load_config({**BASE, "DATABASE_URL": "postgresql://fed:hunter2@db/fed"})
    printed = dict(config.describe())
    assert "hunter2" not in printed["DATABASE_URL"]
    assert "hunter2" not in repr(config)
    assert config.database_url is not None
    assert config.database_url.reveal().endswith("hunter2@db/fed")


def test_readme_documents_every_setting() -> None:
    from federatie.config import SETTINGS

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.env}` |" in readme, setting.env
