"""Settings: a TOML file named by MINYI_CONFIG, overlaid with the environment; bad values say where."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from minyi.cli import app
from survey.config import Settings, load_settings
from survey.errors import Refused


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


def _config(tmp_path: Path, text: str) -> dict[str, str]:
    config = tmp_path / "minyi.toml"
    config.write_text(text, encoding="utf-8")
    return {"MINYI_CONFIG": str(config)}


@pytest.mark.parametrize(("line", "reason"), [
    ('twilio_cps = "fast"', r"twilio_cps: not a number"),
    ('twilio_cps = "2"', r"twilio_cps: not a number"),  # TOML has numbers: a string is a mistake
    ("trusted_proxies = 1.5", r"trusted_proxies: not a whole number"),
    ("trusted_proxies = -1", r"trusted_proxies: must be 0 or more"),
    ("centre_name = 5", r"centre_name: not a string"),
])
def test_a_value_of_the_wrong_type_in_the_file_names_the_file_and_the_key(tmp_path: Path, line: str,
                                                                          reason: str) -> None:
    with pytest.raises(ValueError, match=rf"minyi\.toml: {reason}$"):
        load_settings(_config(tmp_path, line + "\n"))


def test_a_whole_number_in_the_file_is_a_number_of_calls_per_second(tmp_path: Path) -> None:
    assert load_settings(_config(tmp_path, "twilio_cps = 2\n")).twilio_cps == 2.0


def test_every_problem_of_the_file_is_named_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as refused:
        load_settings(_config(tmp_path, 'databse_url = "x"\ntwilio_cps = "fast"\ncentre_name = 5\n'))
    assert str(refused.value).endswith(
        "minyi.toml: unknown setting(s) databse_url; twilio_cps: not a number; centre_name: not a string")


def test_each_error_names_its_own_source(tmp_path: Path) -> None:
    good_file = _config(tmp_path, "twilio_cps = 2.5\n")
    with pytest.raises(ValueError, match=r"^TWILIO_CPS='fast': not a number$"):
        load_settings({**good_file, "TWILIO_CPS": "fast"})
    bad_file = _config(tmp_path, 'twilio_cps = "fast"\n')
    with pytest.raises(ValueError, match=r"minyi\.toml: twilio_cps: not a number$"):
        load_settings({**bad_file, "TWILIO_CPS": "3"})


def test_a_file_that_is_missing_or_not_toml_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"MINYI_CONFIG='.*missing\.toml': No such file"):
        load_settings({"MINYI_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(ValueError, match=r"minyi\.toml: not TOML: "):
        load_settings(_config(tmp_path, "database_url =\n"))


def test_the_environment_must_hold_finite_and_non_negative_numbers() -> None:
    with pytest.raises(ValueError, match=r"^TWILIO_CPS='nan': not a finite number$"):
        load_settings({"TWILIO_CPS": "nan"})
    with pytest.raises(ValueError, match=r"^MINYI_TRUSTED_PROXIES='-1': must be 0 or more$"):
        load_settings({"MINYI_TRUSTED_PROXIES": "-1"})


def test_the_command_line_reports_a_bad_setting_in_one_line_and_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["survey", "list"], env=_config(tmp_path, 'twilio_cps = "fast"\n'))
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [f"error: {tmp_path / 'minyi.toml'}: twilio_cps: not a number"]


def test_centre_timezone_is_an_iana_name() -> None:
    assert load_settings({"MINYI_CENTRE_TIMEZONE": "Europe/London"}).centre_timezone == "Europe/London"
    with pytest.raises(Refused, match=r"MINYI_CENTRE_TIMEZONE='Mars/Base': not a known time zone"):
        load_settings({"MINYI_CENTRE_TIMEZONE": "Mars/Base"})


@pytest.mark.parametrize("policy", ["after_download", "never", "after_days:30"])
def test_recording_deletion_takes_the_documented_policies(policy: str) -> None:
    assert load_settings({"MINYI_RECORDING_DELETION": policy}).recording_deletion == policy


@pytest.mark.parametrize("policy", ["always", "after_days:", "after_days:0", "after_days:-3", "after_days:2.5"])
def test_recording_deletion_refuses_anything_else(policy: str) -> None:
    with pytest.raises(Refused, match=r"MINYI_RECORDING_DELETION=.*: must be after_download, never or after_days:N"):
        load_settings({"MINYI_RECORDING_DELETION": policy})


def test_the_former_twilio_recording_deletion_is_refused_not_ignored() -> None:
    """A centre that kept Twilio's copies with TWILIO_RECORDING_DELETION=never must not find them deleted."""
    with pytest.raises(Refused, match=r"TWILIO_RECORDING_DELETION is now MINYI_RECORDING_DELETION"):
        load_settings({"TWILIO_RECORDING_DELETION": "never"})
