"""Environment variable names that change how programs find, load or run code.

Whoever can write one secret under a `--prefix` must not be able to run code on the machine of
whoever runs `kvctl run --prefix` (or sources `kvctl export`): a secret named `myapp-ld-preload`
would otherwise become `LD_PRELOAD`. These names are taken only from an explicit mapping
(`--env NAME=REF`, or a line the user wrote in an `--env-file`), never derived from secret names.
"""

from __future__ import annotations

# Exact names, grouped by what reads them.
LOADER_NAMES: frozenset[str] = frozenset(
    {
        # shells: where commands are found, startup files, word splitting, traces and prompts
        "PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS1", "PS2", "PS3", "PS4",
        "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE", "ZDOTDIR", "HOME", "FPATH",
        # the dynamic loader and C library
        "GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "HOSTALIASES", "MALLOC_CHECK_",
        # language runtimes
        "NODE_OPTIONS", "NODE_PATH", "RUBYOPT", "RUBYLIB", "GEM_HOME", "GEM_PATH",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "JAVA_HOME",
        "PHPRC", "PHP_INI_SCAN_DIR", "TCLLIBPATH", "R_PROFILE", "R_PROFILE_USER", "R_ENVIRON",
        "R_ENVIRON_USER", "DOTNET_STARTUP_HOOKS", "DOTNET_ADDITIONAL_DEPS",
        # libraries and tools that load modules or run helpers named in the environment
        "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "EDITOR", "VISUAL", "PAGER",
        "MANPAGER", "BROWSER", "LESSOPEN", "LESSCLOSE", "SSH_ASKPASS", "SUDO_ASKPASS",
        "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_ASKPASS", "GIT_EDITOR", "GIT_PAGER",
        "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_TEMPLATE_DIR", "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM", "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS",
    }
)  # fmt: skip

# Every name starting with one of these.
LOADER_PREFIXES: tuple[str, ...] = (
    "LD_",  # LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...
    "DYLD_",  # macOS's loader
    "PYTHON",  # PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, PYTHONWARNINGS, ...
    "PERL5",  # PERL5LIB, PERL5OPT, PERL5DB
    "PERLLIB",
    "BASH_FUNC_",  # exported shell functions
    "BASH_",  # BASH_ENV, BASH_XTRACEFD, BASH_LOADABLES_PATH, ...
    "LUA_",  # LUA_INIT runs code; LUA_PATH, LUA_CPATH
    "CORECLR_",  # .NET profilers
    "COR_",
    "GIT_CONFIG_KEY_",
    "GIT_CONFIG_VALUE_",
    "KVCTL_",  # kvctl's own settings: a vault could redirect a nested kvctl
    "_KVCTL_",
)


def loads_code(name: str) -> bool:
    """True for a variable that changes how programs load code (compared case-insensitively,
    since Windows' environment is)."""
    upper = name.upper()
    return upper in LOADER_NAMES or upper.startswith(LOADER_PREFIXES)
