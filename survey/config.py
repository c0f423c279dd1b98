"""Configuration from environment variables, optionally from a TOML file.

Environment variables win over the file named by ``MINYI_CONFIG`` (TOML with the same keys in
lower case, e.g. ``database_url = "postgresql+psycopg://..."``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

# The session key when MINYI_SECRET_KEY is not set. It is in the public source, so anyone can sign
# a session with it: `minyi web` uses it on a loopback address only (web/startup.py).
DEVELOPMENT_SECRET_KEY = "dev-insecure-change-me"


@dataclass(frozen=True)
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
    twilio_cps: float = 1.0
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
    prompts_dir: str = "prompts"
    centre_name: str = "县社情民意调查中心"
    trusted_proxies: int = 0  # reverse proxies in front of `minyi web` whose X-Forwarded-* headers count
    ratelimit_storage: str = "memory://"  # e.g. redis://127.0.0.1:6379 to share the login limit between workers
    simulated_rehearsal: str = ""  # a rehearsal file for the simulated channel (docs/rehearsal.md)

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(database_url={_mask_url(self.database_url)!r}, public_url={self.public_url!r})"


_ENV_NAMES = {
    "database_url": "MINYI_DATABASE_URL",
    "secret_key": "MINYI_SECRET_KEY",
    "phone_key": "MINYI_PHONE_KEY",
    "phone_key_file": "MINYI_PHONE_KEY_FILE",
    "public_url": "MINYI_PUBLIC_URL",
    "recordings_dir": "MINYI_RECORDINGS_DIR",
    "prompts_dir": "MINYI_PROMPTS_DIR",
    "centre_name": "MINYI_CENTRE_NAME",
    "trusted_proxies": "MINYI_TRUSTED_PROXIES",
    "ratelimit_storage": "MINYI_RATELIMIT_STORAGE",
    "simulated_rehearsal": "MINYI_SIMULATED_REHEARSAL",
}


def _env_name(key: str) -> str:
    return _ENV_NAMES.get(key, key.upper())


def _mask_url(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def _number(name: str, value: str, kind: str) -> float | int:
    try:
        return int(value) if kind == "int" else float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: not {'a whole number' if kind == 'int' else 'a number'}") from None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings from ``MINYI_CONFIG`` (if set) overlaid with the environment."""
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    config_file = env.get("MINYI_CONFIG")
    if config_file:
        with Path(config_file).open("rb") as fh:
            values.update(tomllib.load(fh))
    for f in fields(Settings):
        name = _env_name(f.name)
        if name in env:
            values[f.name] = _number(name, env[name], f.type) if f.type in ("float", "int") else env[name]
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{config_file}: unknown setting(s) {', '.join(unknown)}")
    return Settings(**values)  # type: ignore[arg-type]
