"""Which names count as loading code, and the usage errors around the new export options."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core.loader_names import LOADER_NAMES, LOADER_PREFIXES, LOADER_SUFFIXES, loads_code
from tests.conftest import run_kvctl_process


@pytest.mark.parametrize(
    "name",
    ["PATH", "LD_PRELOAD", "ld_library_path", "DYLD_INSERT_LIBRARIES", "BASH_ENV", "ENV", "IFS", "PS4",
     "SHELLOPTS", "PYTHONPATH", "PYTHONSTARTUP", "NODE_OPTIONS", "PERL5OPT", "PERL5LIB", "RUBYOPT",
     "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "GCONV_PATH", "GLIBC_TUNABLES", "GIT_SSH_COMMAND",
     "LUA_INIT", "KVCTL_VAULT", "_KVCTL_RUN_DEPTH", "BASH_FUNC_X%%",
     # exploited: git runs the sequence editor, tar reads options (--to-command, --checkpoint-action)
     "GIT_SEQUENCE_EDITOR", "TAR_OPTIONS", "GIT_SSH", "GIT_EDITOR", "GIT_PAGER", "GIT_EXEC_PATH",
     "GIT_CONFIG_GLOBAL", "GIT_CONFIG_KEY_0", "GIT_ASKPASS", "GIT_SSL_NO_VERIFY", "EDITOR", "VISUAL",
     "PAGER", "SYSTEMD_PAGER", "MANPAGER", "LESS", "LESSOPEN", "VIMINIT", "EXINIT", "MYVIMRC", "PS0",
     "PROMPT_COMMAND", "HISTFILE", "NPM_CONFIG_SCRIPT_SHELL", "YARN_RC_FILENAME", "RSYNC_RSH",
     "SYSTEMD_EDITOR", "SUDO_ASKPASS", "SSH_ASKPASS", "HTTP_PROXY", "https_proxy", "All_Proxy",
     "no_proxy", "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR",
     "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
     "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL",
     "GOOGLE_APPLICATION_CREDENTIALS", "KUBECONFIG", "DOCKER_HOST", "MAVEN_OPTS", "XZ_OPT",
     "MAKEFLAGS", "GOFLAGS"],
)  # fmt: skip
def test_names_that_load_code(name):
    assert loads_code(name)


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "NODE_ENV", "API_KEY", "PATHNAME", "DATABASE_URL", "JAVA", "CORS_ORIGINS", "HOMEPAGE",
     "GITHUB_TOKEN", "REDIS_URL", "SESSION_SECRET", "SMTP_PASSWORD", "SENTRY_DSN", "LOG_LEVEL", "PORT"],
)  # fmt: skip
def test_ordinary_app_settings_are_not_blocked(name):
    assert not loads_code(name)


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True))
def test_the_rule_is_exactly_the_documented_list(name):
    upper = name.upper()
    listed = upper in LOADER_NAMES or upper.startswith(LOADER_PREFIXES) or upper.endswith(LOADER_SUFFIXES)
    assert loads_code(name) == listed


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["export", "--format", "json", "--dotenv-dialect", "node"], "--dotenv-dialect goes with --format dotenv"),
        (["export", "--dotenv-dialect", "ruby"], "Invalid value for '--dotenv-dialect'"),
    ],
)
def test_export_option_errors_exit_2(kvctl, args, fragment):
    result = kvctl(*args)
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr


def test_export_skips_loader_names_except_in_json(kvctl, unique, kvctl_env, tmp_path):
    prefix = unique("exl")
    for suffix, value in {"path": "/tmp/evil", "ld-preload": "/tmp/evil.so", "db-password": "pw"}.items():
        assert kvctl("set", f"{prefix}-{suffix}", "--value", value).exit_code == 0
    for fmt in ("dotenv", "shell", "github", "azure-devops"):
        out = tmp_path / f"out.{fmt}"
        done = run_kvctl_process(["export", "--prefix", prefix, "--format", fmt, "--file", str(out)], env=kvctl_env)
        assert done.returncode == 0, done.stderr
        text = (out.read_text() if out.exists() else "") + done.stdout.decode()
        assert "DB_PASSWORD" in text and "PATH" not in text and "LD_PRELOAD" not in text, fmt
        assert f"skipped secret '{prefix}-path': $PATH".encode() in done.stderr
        assert b"/tmp/evil" not in done.stderr
    done = run_kvctl_process(["export", "--prefix", prefix, "--format", "json"], env=kvctl_env)
    assert json.loads(done.stdout) == {"PATH": "/tmp/evil", "LD_PRELOAD": "/tmp/evil.so", "DB_PASSWORD": "pw"}
