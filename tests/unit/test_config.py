"""Settings come from the environment once, and a bad value stops start-up with one line."""
import pytest

from scheduler import create_app
from scheduler.config import ConfigError, load_settings

SID = "AC" + "0123456789abcdef" * 2
MG = "MG" + "fedcba9876543210" * 2
TOKEN = "twilio-auth-token-very-secret"
PG = {"DATABASE_URL": "postgresql://app:pw@db.internal:5432/sched",
      "SECRET_KEY": "a-long-enough-secret-key"}
TWILIO = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
          "TWILIO_FROM_NUMBER": "+18055550100"}


def config_error(environ) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    return caught.value


def assert_names(error: ConfigError, variable: str) -> None:
    message = str(error)
    assert error.variable == variable
    assert variable in message
    assert "\n" not in message and "\r" not in message
    assert error.code == message  # SystemExit prints its code: that one line


# Defaults -----------------------------------------------------------------------------

def test_empty_environment_means_embedded_sqlite_with_worker_and_generated_secret():
    settings = load_settings({})

    assert settings.database_url is None
    assert settings.embedded is True
    assert settings.scheduler_embedded is True
    assert settings.secret_key and len(settings.secret_key) >= 32
    assert settings.twilio_enabled is False
    assert settings.public_base_url == "http://127.0.0.1:5000"
    assert settings.sms_rate_per_second == 1.0
    assert settings.log_level == "INFO"


def test_blank_values_count_as_unset():
    settings = load_settings({"DATABASE_URL": "  ", "TWILIO_ACCOUNT_SID": "",
                              "SMS_RATE_PER_SECOND": "", "PUBLIC_BASE_URL": ""})
    assert settings.database_url is None and settings.twilio_enabled is False
    assert settings.sms_rate_per_second == 1.0


def test_sqlite_url_is_embedded_and_needs_no_secret():
    settings = load_settings({"DATABASE_URL": "sqlite:////var/lib/sched/db.sqlite3"})
    assert settings.database_url == "sqlite:////var/lib/sched/db.sqlite3"
    assert settings.embedded is True and settings.scheduler_embedded is True


# Database and secret ------------------------------------------------------------------

def test_postgresql_without_secret_key_is_refused_naming_secret_key():
    error = config_error({"DATABASE_URL": PG["DATABASE_URL"]})
    assert_names(error, "SECRET_KEY")


@pytest.mark.parametrize("scheme", ["postgres://", "postgresql://"])
def test_postgres_urls_are_normalised_to_the_psycopg_driver(scheme):
    settings = load_settings({**PG, "DATABASE_URL": scheme + "app:pw@db.internal:5432/sched"})
    assert settings.database_url == "postgresql+psycopg://app:pw@db.internal:5432/sched"
    assert settings.embedded is False
    assert settings.scheduler_embedded is False  # production runs its own worker process
    assert settings.secret_key == PG["SECRET_KEY"]


def test_unsupported_database_is_refused_naming_database_url():
    assert_names(config_error({**PG, "DATABASE_URL": "mysql://app@db/sched"}), "DATABASE_URL")


def test_short_secret_key_is_refused_without_echoing_it():
    error = config_error({**PG, "SECRET_KEY": "hunter2xyz"})
    assert_names(error, "SECRET_KEY")
    assert "hunter2xyz" not in str(error)


# Booleans and numbers -----------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [("1", True), ("yes", True), ("ON", True),
                                           ("false", False), ("0", False), ("no", False)])
def test_scheduler_embedded_accepts_the_usual_spellings(raw, expected):
    assert load_settings({"SCHEDULER_EMBEDDED": raw}).scheduler_embedded is expected


def test_scheduler_embedded_can_be_forced_on_with_postgresql():
    assert load_settings({**PG, "SCHEDULER_EMBEDDED": "true"}).scheduler_embedded is True


def test_bad_scheduler_embedded_value_is_refused():
    error = config_error({"SCHEDULER_EMBEDDED": "maybe"})
    assert_names(error, "SCHEDULER_EMBEDDED")
    assert "maybe" in str(error)


@pytest.mark.parametrize("environ, expected", [({}, False), ({"BENCH_COUNT_STATEMENTS": "1"}, True),
                                               ({"BENCH_COUNT_STATEMENTS": "off"}, False)])
def test_statement_counting_for_the_benchmarks_is_off_unless_asked_for(environ, expected):
    assert load_settings({**PG, **environ}).bench_count_statements is expected


def test_bad_bench_count_statements_value_is_refused():
    assert_names(config_error({"BENCH_COUNT_STATEMENTS": "sometimes"}), "BENCH_COUNT_STATEMENTS")


@pytest.mark.parametrize("raw", ["fast", "0", "-1", "nan", "1,5"])
def test_sms_rate_must_be_a_positive_number(raw):
    assert_names(config_error({"SMS_RATE_PER_SECOND": raw}), "SMS_RATE_PER_SECOND")


def test_sms_rate_accepts_fractions():
    assert load_settings({"SMS_RATE_PER_SECOND": "0.5"}).sms_rate_per_second == 0.5


def test_error_message_stays_on_one_line_even_when_the_value_has_a_newline():
    error = config_error({"SMS_RATE_PER_SECOND": "1\nDROP"})
    assert_names(error, "SMS_RATE_PER_SECOND")


def test_bad_log_level_is_refused():
    assert_names(config_error({"LOG_LEVEL": "chatty"}), "LOG_LEVEL")


# Twilio -------------------------------------------------------------------------------

def test_complete_twilio_settings_enable_twilio():
    settings = load_settings({**TWILIO, "TWILIO_API_BASE_URL": "http://127.0.0.1:4010/"})
    assert settings.twilio_enabled is True
    assert settings.twilio_from_number == "+18055550100"
    assert settings.twilio_api_base_url == "http://127.0.0.1:4010"


def test_messaging_service_may_replace_the_from_number():
    settings = load_settings({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
                              "TWILIO_MESSAGING_SERVICE_SID": MG})
    assert settings.twilio_enabled and settings.twilio_messaging_service_sid == MG


def test_account_sid_without_token_is_refused_naming_the_token():
    error = config_error({"TWILIO_ACCOUNT_SID": SID, "TWILIO_FROM_NUMBER": "+18055550100"})
    assert_names(error, "TWILIO_AUTH_TOKEN")


def test_token_without_account_sid_is_refused_without_echoing_the_token():
    error = config_error({"TWILIO_AUTH_TOKEN": TOKEN})
    assert_names(error, "TWILIO_ACCOUNT_SID")
    assert TOKEN not in str(error)


@pytest.mark.parametrize("sid", ["AC123", "SK" + "0" * 32, "AC" + "g" * 32, "AC" + "0" * 33])
def test_malformed_account_sid_is_refused(sid):
    assert_names(config_error({**TWILIO, "TWILIO_ACCOUNT_SID": sid}), "TWILIO_ACCOUNT_SID")


def test_account_sid_without_sender_is_refused():
    error = config_error({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN})
    assert_names(error, "TWILIO_FROM_NUMBER")
    assert "TWILIO_MESSAGING_SERVICE_SID" in str(error)


@pytest.mark.parametrize("number", ["805-555-0100", "18055550100", "+0123456789", "+1 805 555 0100"])
def test_from_number_must_be_e164(number):
    assert_names(config_error({**TWILIO, "TWILIO_FROM_NUMBER": number}), "TWILIO_FROM_NUMBER")


def test_malformed_messaging_service_sid_is_refused():
    error = config_error({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
                          "TWILIO_MESSAGING_SERVICE_SID": "MG42"})
    assert_names(error, "TWILIO_MESSAGING_SERVICE_SID")


# URLs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["PUBLIC_BASE_URL", "TWILIO_API_BASE_URL"])
@pytest.mark.parametrize("raw", ["clinic.example.com", "ftp://clinic.example.com", "http://",
                                 "localhost:4010"])
def test_base_urls_must_be_http_urls(variable, raw):
    assert_names(config_error({variable: raw}), variable)


def test_public_base_url_loses_its_trailing_slash():
    settings = load_settings({"PUBLIC_BASE_URL": "https://sched.clinic.example/"})
    assert settings.public_base_url == "https://sched.clinic.example"


def test_redis_url_must_be_a_redis_url():
    assert_names(config_error({"REDIS_URL": "http://cache:6379"}), "REDIS_URL")


# Outbound requests ----------------------------------------------------------------------

def test_by_default_no_host_is_exempt_and_calendars_expand_to_20000_occurrences():
    settings = load_settings({})
    assert settings.outbound_allowed_hosts == ()
    assert settings.calendar_max_occurrences == 20_000


def test_allowed_hosts_are_hosts_or_host_ports_lower_cased_with_ipv6_in_brackets():
    settings = load_settings({"OUTBOUND_ALLOWED_HOSTS": " CalDAV.Internal , 10.0.0.5:8443,[FD00::5],[::1]:5232,"})
    assert settings.outbound_allowed_hosts == (("caldav.internal", None), ("10.0.0.5", 8443),
                                               ("fd00::5", None), ("::1", 5232))


@pytest.mark.parametrize("raw", ["http://caldav.internal", "caldav.internal/dav", "caldav.internal:0",
                                 "caldav.internal:65536", "*.internal", "user@caldav.internal",
                                 "[not-ipv6]", "::1", "caldav.internal:", "cal dav"])
def test_a_malformed_allowed_host_is_refused_naming_the_variable(raw):
    assert_names(config_error({"OUTBOUND_ALLOWED_HOSTS": raw}), "OUTBOUND_ALLOWED_HOSTS")


@pytest.mark.parametrize("raw", ["0", "-5", "lots", "1e3"])
def test_the_occurrence_bound_is_a_positive_whole_number(raw):
    assert_names(config_error({"CALENDAR_MAX_OCCURRENCES": raw}), "CALENDAR_MAX_OCCURRENCES")
    assert load_settings({"CALENDAR_MAX_OCCURRENCES": "500"}).calendar_max_occurrences == 500


def test_create_app_reads_allowed_hosts_from_an_override(clean_environ):
    app = create_app({"TESTING": True, "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1:5232"})
    assert app.extensions["settings"].outbound_allowed_hosts == (("127.0.0.1", 5232),)


# The error type and the app factory ---------------------------------------------------

def test_config_error_is_a_system_exit_so_processes_stop_with_its_line():
    error = config_error({"SCHEDULER_EMBEDDED": "perhaps"})
    assert isinstance(error, SystemExit)
    assert str(error).startswith("configuration error: SCHEDULER_EMBEDDED:")


@pytest.fixture
def clean_environ(monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "SCHEDULER_EMBEDDED", "TWILIO_ACCOUNT_SID",
                 "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID",
                 "TWILIO_API_BASE_URL", "PUBLIC_BASE_URL", "SMS_RATE_PER_SECOND", "REDIS_URL",
                 "LOG_LEVEL", "OUTBOUND_ALLOWED_HOSTS", "CALENDAR_MAX_OCCURRENCES"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("override, variable", [
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"DATABASE_URL": "mysql://app@db/sched"}, "DATABASE_URL"),
    ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
])
def test_create_app_refuses_a_bad_override(clean_environ, override, variable):
    with pytest.raises(ConfigError) as caught:
        create_app({"TESTING": True, **override})
    assert caught.value.variable == variable


def test_create_app_refuses_a_bad_environment(clean_environ, monkeypatch):
    monkeypatch.setenv("SMS_RATE_PER_SECOND", "lots")
    with pytest.raises(ConfigError) as caught:
        create_app({"TESTING": True})
    assert caught.value.variable == "SMS_RATE_PER_SECOND"
