"""Configuration from environment variables, optionally from a TOML file.

Environment variables win over the file named by ``MINYI_CONFIG`` (TOML with the same keys in
lower case, e.g. ``database_url = "postgresql+psycopg://..."``).

pydantic checks both sources, each on its own so that an error names where the value came from:
the file strictly (TOML has numbers, so ``twilio_cps = "2"`` is a mistake), the environment
leniently (every variable is a string; ``TWILIO_CPS=2`` is a number). A bad value is a
:class:`~survey.errors.Refused`, which the command line prints as one line before exiting 2.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails

from survey.errors import Refused

# The session key when MINYI_SECRET_KEY is not set. It is in the public source, so anyone can sign
# a session with it: `minyi web` uses it on a loopback address only (web/startup.py).
DEVELOPMENT_SECRET_KEY = "dev-insecure-change-me"



def _known_zone(name: str) -> str:
    """An IANA time zone name such as ``Asia/Shanghai``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a known time zone (an IANA name such as Asia/Shanghai)") from None
    return name


def _deletion_policy(value: str) -> str:
    """When a recording brought home is deleted at its provider (Twilio, Asterisk):
    ``after_download``, ``never`` or ``after_days:N`` (N a whole number of days, 1 or more)."""
    if value in ("after_download", "never"):
        return value
    kind, _, days = value.partition(":")
    if kind != "after_days" or not days.isdigit() or int(days) < 1:
        raise ValueError("must be after_download, never or after_days:N (N a whole number of days, 1 or more)")
    return value


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Settings:
    database_url: str = "sqlite:///minyi.db"
    secret_key: str = DEVELOPMENT_SECRET_KEY
    phone_key: str = ""  # the phone keys themselves (survey/phones.py, docs/keys.md) ...
    phone_key_file: str = ""  # ... or a file holding them
    public_url: str = "http://127.0.0.1:8000"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_operator_number: str = ""
    twilio_cps: Annotated[float, Field(allow_inf_nan=False)] = 1.0  # the Twilio channel refuses 0 or less
    twilio_voice_zh: str = "Polly.Zhiyu-Neural"  # <Say> voice for prompts with no recording
    twilio_voice_en: str = "Polly.Joanna-Neural"
    ari_url: str = "http://127.0.0.1:8088"
    ari_username: str = ""
    ari_password: str = ""
    ari_app: str = "minyi"
    asterisk_endpoint: str = "PJSIP/{number}@trunk"
    asterisk_operator_endpoint: str = ""
    asterisk_amd_context: str = ""  # dialplan context running AMD() before the interview (docs/asterisk.md)
    recordings_dir: str = "recordings"
    # when a recording brought home is deleted at its provider, Twilio or Asterisk (docs/recordings.md)
    recording_deletion: Annotated[str, AfterValidator(_deletion_policy)] = "after_download"
    # record every answered call whole, Twilio and Asterisk alike, for quality control (docs/recordings.md)
    record_calls: bool = False
    prompts_dir: str = "prompts"
    centre_name: str = "县社情民意调查中心"
    centre_name_en: str = "County Public Opinion Survey Centre"  # the English bulletin's
    sponsor: str = "县委政法委"  # who commissions the survey, named in the bulletin's methods box
    sponsor_en: str = "County Political and Legal Affairs Commission"
    # the centre's own time zone: every time shown to staff or printed in a bulletin is in it
    centre_timezone: Annotated[str, AfterValidator(_known_zone)] = "Asia/Shanghai"
    # reverse proxies in front of `minyi web` whose X-Forwarded-* headers count
    trusted_proxies: Annotated[int, Field(ge=0)] = 0
    ratelimit_storage: str = "memory://"  # e.g. redis://127.0.0.1:6379 to share the login limit between workers
    simulated_rehearsal: str = ""  # a rehearsal file for the simulated channel (docs/rehearsal.md)
    upload_max_mb: Annotated[int, Field(ge=1)] = 32  # the largest upload the web app takes (a sample frame)
    web_runs_jobs: bool = True  # `minyi web` runs background jobs in a thread; False when `minyi worker` does

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(database_url={_mask_url(self.database_url)!r}, public_url={self.public_url!r})"


_ENV_NAMES = {
    "database_url": "MINYI_DATABASE_URL",
    "secret_key": "MINYI_SECRET_KEY",
    "phone_key": "MINYI_PHONE_KEY",
    "phone_key_file": "MINYI_PHONE_KEY_FILE",
    "public_url": "MINYI_PUBLIC_URL",
    "recordings_dir": "MINYI_RECORDINGS_DIR",
    "recording_deletion": "MINYI_RECORDING_DELETION",
    "record_calls": "MINYI_RECORD_CALLS",
    "prompts_dir": "MINYI_PROMPTS_DIR",
    "centre_name": "MINYI_CENTRE_NAME",
    "centre_name_en": "MINYI_CENTRE_NAME_EN",
    "sponsor": "MINYI_SPONSOR",
    "sponsor_en": "MINYI_SPONSOR_EN",
    "centre_timezone": "MINYI_CENTRE_TIMEZONE",
    "trusted_proxies": "MINYI_TRUSTED_PROXIES",
    "ratelimit_storage": "MINYI_RATELIMIT_STORAGE",
    "simulated_rehearsal": "MINYI_SIMULATED_REHEARSAL",
    "upload_max_mb": "MINYI_UPLOAD_MAX_MB",
    "web_runs_jobs": "MINYI_WEB_RUNS_JOBS",
}

# What a pydantic error type means, in the words of the messages below; others keep pydantic's.
_REASONS = {
    "float_parsing": "not a number",
    "float_type": "not a number",
    "finite_number": "not a finite number",
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "int_type": "not a whole number",
    "string_type": "not a string",
    "greater_than_equal": "must be {ge:g} or more",
}


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "value_error":  # our own validators' words, without pydantic's prefix
        return str(error.get("ctx", {}).get("error", error["msg"]))
    reason = _REASONS.get(error["type"])
    return reason.format(**error.get("ctx", {})) if reason else error["msg"]


def _env_name(key: str) -> str:
    return _ENV_NAMES.get(key, key.upper())


def _mask_url(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings from ``MINYI_CONFIG`` (if set) overlaid with the environment."""
    env = dict(os.environ if env is None else env)
    config_file = env.get("MINYI_CONFIG")
    return _overlay_environment(_from_file(Path(config_file)) if config_file else Settings(), env)


def _from_file(path: Path) -> Settings:
    try:
        with path.open("rb") as fh:
            values = tomllib.load(fh)
    except OSError as exc:
        raise Refused(f"MINYI_CONFIG={str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"{path}: not TOML: {exc}") from None
    try:
        return Settings(**_strict_file_model().model_validate(values).model_dump())
    except ValidationError as exc:
        raise Refused(_file_errors(path, exc.errors())) from None


@functools.cache
def _strict_file_model() -> type[BaseModel]:
    """A model with the fields of :class:`Settings` that accepts no string for a number nor a
    number for a string (a pydantic dataclass can only be validated strictly from an instance)."""
    hints = get_type_hints(Settings, include_extras=True)
    fields: dict[str, Any] = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(Settings)}
    return create_model("SettingsFile", __config__=ConfigDict(strict=True, extra="forbid"), **fields)


def _file_errors(path: Path, errors: list[ErrorDetails]) -> str:
    unknown = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"]
    problems = [f"{e['loc'][0]}: {_reason(e)}" for e in errors if e["type"] != "extra_forbidden"]
    if unknown:
        problems.insert(0, f"unknown setting(s) {', '.join(unknown)}")
    return f"{path}: " + "; ".join(problems)


# Variables renamed: one still set would be ignored without a word, so it is refused instead.
_RENAMED = {"TWILIO_RECORDING_DELETION": "MINYI_RECORDING_DELETION"}


def _overlay_environment(base: Settings, env: dict[str, str]) -> Settings:
    for old, new in _RENAMED.items():
        if old in env:
            raise Refused(f"{old} is now {new} (it covers Twilio's and Asterisk's recordings); rename it")
    names = {f.name: _env_name(f.name) for f in dataclasses.fields(Settings)}
    given: dict[str, Any] = {key: env[name] for key, name in names.items() if name in env}
    try:
        return dataclasses.replace(base, **given)
    except ValidationError as exc:
        raise Refused("; ".join(_env_error(e) for e in exc.errors())) from None


def _env_error(error: ErrorDetails) -> str:
    return f"{_env_name(str(error['loc'][0]))}={error['input']!r}: {_reason(error)}"
