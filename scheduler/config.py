"""Settings, read from the environment once, validated at start-up.

No other module reads ``os.environ``: everything goes through ``load_settings``.
A bad value raises ``ConfigError``, a ``SystemExit`` whose message is one line naming
the variable, so ``flask``, ``gunicorn`` and the worker all stop with that line.
"""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlparse

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class ConfigError(SystemExit):
    """A configuration value is missing or wrong. The message names the variable."""

    def __init__(self, variable: str, problem: str):
        self.variable = variable
        self.problem = problem
        super().__init__(f"configuration error: {variable}: {problem}")


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: SQLite in the instance folder
    secret_key: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None
    public_base_url: str = "http://127.0.0.1:5000"
    scheduler_embedded: bool | None = None  # None: on for the embedded default only
    sms_rate_per_second: float = 1.0
    redis_url: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"  # json (one object a line) or text; text by default when embedded
    rate_limit_api: str = "1200 per minute"  # per API key
    rate_limit_webhooks: str = "600 per minute"  # per client IP, for Twilio's webhooks
    rate_limit_enabled: bool = True
    cors_origins: tuple[str, ...] = ()  # CORS stays off unless origins are listed
    # prometheus_client reads this variable itself; we read it to know which registry to use.
    prometheus_multiproc_dir: str | None = None
    # Hosts outbound requests may reach although their address is not public: (host, port or
    # None for any port), matched against the URL as written. Empty: nothing is exempt.
    outbound_allowed_hosts: tuple[tuple[str, int | None], ...] = ()
    # Occurrences one external calendar may expand to in one sync (a FREQ=SECONDLY guard).
    calendar_max_occurrences: int = 20_000
    # BENCH_COUNT_STATEMENTS: each response carries its request's SQL statement count
    # (scheduler/metrics.py); for the benchmarks, off by default.
    bench_count_statements: bool = False
    embedded: bool = field(default=False, compare=False)
    # True when no SECRET_KEY was given (embedded default): create_app then keeps a stable
    # key in the instance folder, so stored secrets stay readable across restarts.
    secret_key_generated: bool = field(default=False, compare=False)

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid)


def _bool(name: str, raw: str | None) -> bool | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")


def _url(name: str, raw: str | None, schemes=("http", "https")) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    parsed = urlparse(raw.strip())
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConfigError(name, f"expected an {' or '.join(schemes)} URL, got {raw!r}")
    return raw.strip().rstrip("/")


def _number(name: str, raw: str | None, default: float, minimum: float, kind=float) -> float:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(name, f"expected {what}, got {raw!r}") from None
    if not value >= minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {raw!r}")
    return value


def _limit(name: str, raw: str | None, default: str) -> str:
    if raw is None:
        return default
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(name, f"expected a rate such as '600 per minute', got {raw!r}") from None
    return raw


def _origins(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parsed = urlparse(origin)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path:
            raise ConfigError("CORS_ORIGINS", f"expected origins like https://desk.example.com, got {origin!r}")
    return origins


HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$")


def _allowed_hosts(raw: str | None) -> tuple[tuple[str, int | None], ...]:
    """``host`` or ``host:port`` entries, IPv6 in brackets: ``caldav.internal,10.0.0.5:8443,[fd00::5]``."""
    entries = []
    for entry in (raw or "").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        match = re.fullmatch(r"(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::([0-9]{1,5}))?", entry)
        host, port = (match.group(1), match.group(2)) if match else (entry, None)
        if host.startswith("["):
            try:
                host = ipaddress.IPv6Address(host[1:-1]).compressed
            except ValueError:
                match = None
        elif not HOST_NAME.match(host):
            match = None
        if match is None or (port is not None and not 0 < int(port) < 65536):
            raise ConfigError("OUTBOUND_ALLOWED_HOSTS",
                              f"expected host or host:port entries separated by commas, got {entry!r}")
        entries.append((host, int(port) if port else None))
    return tuple(entries)


def _database_url(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    url = raw.strip()
    # Heroku-style URLs name the scheme "postgres"; SQLAlchemy wants a driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if not (url.startswith("sqlite:") or url.startswith("postgresql+psycopg://")):
        raise ConfigError("DATABASE_URL", "expected a postgresql:// or sqlite:// URL")
    return url


def load_settings(environ: dict | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name):
        value = env.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    database_url = _database_url(env.get("DATABASE_URL"))
    embedded = database_url is None or database_url.startswith("sqlite")
    settings = Settings(
        database_url=database_url,
        secret_key=get("SECRET_KEY"),
        twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
        twilio_from_number=get("TWILIO_FROM_NUMBER"),
        twilio_messaging_service_sid=get("TWILIO_MESSAGING_SERVICE_SID"),
        twilio_api_base_url=_url("TWILIO_API_BASE_URL", env.get("TWILIO_API_BASE_URL")),
        public_base_url=_url("PUBLIC_BASE_URL", env.get("PUBLIC_BASE_URL")) or Settings.public_base_url,
        scheduler_embedded=_bool("SCHEDULER_EMBEDDED", env.get("SCHEDULER_EMBEDDED")),
        sms_rate_per_second=_number("SMS_RATE_PER_SECOND", env.get("SMS_RATE_PER_SECOND"), 1.0, 0.01),
        redis_url=_url("REDIS_URL", env.get("REDIS_URL"), schemes=("redis", "rediss")),
        log_level=(get("LOG_LEVEL") or "INFO").upper(),
        log_format=(get("LOG_FORMAT") or ("text" if embedded else "json")).lower(),
        rate_limit_api=_limit("RATE_LIMIT_API", get("RATE_LIMIT_API"), Settings.rate_limit_api),
        rate_limit_webhooks=_limit("RATE_LIMIT_WEBHOOKS", get("RATE_LIMIT_WEBHOOKS"),
                                   Settings.rate_limit_webhooks),
        rate_limit_enabled=_bool("RATE_LIMIT_ENABLED", env.get("RATE_LIMIT_ENABLED")) is not False,
        cors_origins=_origins(get("CORS_ORIGINS")),
        prometheus_multiproc_dir=get("PROMETHEUS_MULTIPROC_DIR"),
        outbound_allowed_hosts=_allowed_hosts(env.get("OUTBOUND_ALLOWED_HOSTS")),
        calendar_max_occurrences=_number("CALENDAR_MAX_OCCURRENCES", env.get("CALENDAR_MAX_OCCURRENCES"),
                                        Settings.calendar_max_occurrences, 1, kind=int),
        bench_count_statements=_bool("BENCH_COUNT_STATEMENTS", env.get("BENCH_COUNT_STATEMENTS")) is True,
        embedded=embedded,
    )
    return validate(settings)


def validate(settings: Settings) -> Settings:
    """Check the combinations; fill the defaults that depend on other settings."""
    if settings.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("LOG_LEVEL", "expected DEBUG, INFO, WARNING or ERROR")
    if settings.log_format not in {"json", "text"}:
        raise ConfigError("LOG_FORMAT", "expected json or text")
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if sid and not ACCOUNT_SID.match(sid):
        raise ConfigError("TWILIO_ACCOUNT_SID", "expected AC followed by 32 hex digits")
    if sid and not token:
        raise ConfigError("TWILIO_AUTH_TOKEN", "required when TWILIO_ACCOUNT_SID is set")
    if token and not sid:
        raise ConfigError("TWILIO_ACCOUNT_SID", "required when TWILIO_AUTH_TOKEN is set")
    sender = settings.twilio_from_number, settings.twilio_messaging_service_sid
    if sid and not any(sender):
        raise ConfigError("TWILIO_FROM_NUMBER",
                          "set it or TWILIO_MESSAGING_SERVICE_SID when Twilio is configured")
    if settings.twilio_from_number and not E164.match(settings.twilio_from_number):
        raise ConfigError("TWILIO_FROM_NUMBER", "expected an E.164 number such as +18055550100")
    mg = settings.twilio_messaging_service_sid
    if mg and not MESSAGING_SERVICE_SID.match(mg):
        raise ConfigError("TWILIO_MESSAGING_SERVICE_SID", "expected MG followed by 32 hex digits")
    changes = {}
    if settings.scheduler_embedded is None:
        changes["scheduler_embedded"] = settings.embedded
    if not settings.secret_key:
        if not settings.embedded:
            raise ConfigError("SECRET_KEY", "required when DATABASE_URL points at PostgreSQL")
        # The embedded default is a single process on one machine: a per-start key is fine.
        changes["secret_key"] = secrets.token_hex(32)
        changes["secret_key_generated"] = True
    elif len(settings.secret_key) < 16:
        raise ConfigError("SECRET_KEY", "must be at least 16 characters")
    return replace(settings, **changes) if changes else settings


def settings_from_overrides(base: Settings, overrides: dict) -> Settings:
    """Apply test/config overrides given as Settings field names (lower case)."""
    known = {f.name for f in fields(Settings)}
    picked = {k: v for k, v in overrides.items() if k in known}
    if not picked:
        return base
    if isinstance(picked.get("cors_origins"), str):
        picked["cors_origins"] = _origins(picked["cors_origins"])
    if isinstance(picked.get("outbound_allowed_hosts"), str):
        picked["outbound_allowed_hosts"] = _allowed_hosts(picked["outbound_allowed_hosts"])
    if "database_url" in picked:
        picked["database_url"] = _database_url(picked["database_url"])
        picked.setdefault("embedded", picked["database_url"] is None
                          or picked["database_url"].startswith("sqlite"))
        # Defaults that depend on the database are worked out again for the new one.
        picked.setdefault("scheduler_embedded", None)
        if base.secret_key_generated and "secret_key" not in picked:
            picked.update(secret_key=None, secret_key_generated=False)
    return validate(replace(base, **picked))
