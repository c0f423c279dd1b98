"""Settings: a TOML file named by MINYI_CONFIG, overlaid with the environment; bad values say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey.config import Settings, load_settings


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "minyi.toml"
    config.write_text('database_url = "sqlite:///file.db"\ntwilio_cps = 3.5\ntwilio_voice_zh = "Polly.Zhiyu"\n',
                      encoding="utf-8")
    settings = load_settings({"MINYI_CONFIG": str(config), "MINYI_DATABASE_URL": "sqlite:///env.db",
                              "TWILIO_VOICE_EN": "Google.en-US-Standard-C"})
    assert settings.database_url == "sqlite:///env.db"
    assert settings.twilio_cps == 3.5
    assert (settings.twilio_voice_zh, settings.twilio_voice_en) == ("Polly.Zhiyu", "Google.en-US-Standard-C")


def test_defaults_without_file_or_environment() -> None:
    assert load_settings({}) == Settings()


def test_an_unknown_setting_in_the_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    config = tmp_path / "minyi.toml"
    config.write_text('databse_url = "sqlite:///x.db"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"minyi\.toml: unknown setting\(s\) databse_url"):
        load_settings({"MINYI_CONFIG": str(config)})


def test_a_number_that_is_not_one_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"TWILIO_CPS='fast': not a number"):
        load_settings({"TWILIO_CPS": "fast"})


def test_secrets_never_show_in_its_repr() -> None:
    settings = Settings(database_url="postgresql+psycopg://minyi:hunter2@db/minyi", secret_key="s3cret",
                        twilio_auth_token="tok3n")
    shown = repr(settings)
    assert "hunter2" not in shown and "s3cret" not in shown and "tok3n" not in shown and "db/minyi" in shown


def test_a_count_must_be_a_whole_number() -> None:
    assert load_settings({"MINYI_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    with pytest.raises(ValueError, match=r"MINYI_TRUSTED_PROXIES='1.5': not a whole number"):
        load_settings({"MINYI_TRUSTED_PROXIES": "1.5"})
