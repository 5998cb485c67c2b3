"""Environment variable names that change how programs find, load or run code, or where they
send traffic and whom they trust.

Whoever can write one secret under a `--prefix` must not be able to run code on the machine of
whoever runs `kvctl run --prefix` (or sources `kvctl export`), nor redirect its traffic: a secret
named `myapp-ld-preload` would otherwise become `LD_PRELOAD`, `myapp-git-sequence-editor` a
command git runs, `myapp-https-proxy` a proxy that sees every request. These names are taken only
from an explicit mapping (`--env NAME=REF`, or a line the user wrote in an `--env-file`), never
derived from secret names.

The rule is deliberately wide (prefixes and suffixes, not only known names): a name that is
wrongly refused costs one `--env NAME=REF`; a name that is wrongly allowed runs code.
"""

from __future__ import annotations

# Exact names, grouped by what reads them.
LOADER_NAMES: frozenset[str] = frozenset(
    {
        # shells: where commands are found, startup files, word splitting, traces, prompts, history
        "PATH", "IFS", "ENV", "SHELLOPTS", "BASHOPTS", "PS0", "PS1", "PS2", "PS3", "PS4",
        "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE", "ZDOTDIR", "HOME", "FPATH", "HISTFILE", "SHELL",
        # the dynamic loader and C library
        "GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "HOSTALIASES", "MALLOC_CHECK_",
        # language runtimes
        "NODE_OPTIONS", "NODE_PATH", "NODE_EXTRA_CA_CERTS", "NODE_REPL_EXTERNAL_MODULE", "RUBYLIB",
        "GEM_HOME", "GEM_PATH", "CLASSPATH", "JAVA_HOME", "PHPRC", "PHP_INI_SCAN_DIR", "TCLLIBPATH",
        "R_PROFILE", "R_PROFILE_USER", "R_ENVIRON", "R_ENVIRON_USER", "DOTNET_STARTUP_HOOKS",
        "DOTNET_ADDITIONAL_DEPS",
        # tools that load modules, run helpers or editors named in the environment
        "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "VISUAL", "BROWSER", "VIMINIT",
        "EXINIT", "MYVIMRC", "GVIMINIT", "MYGVIMRC", "RSYNC_RSH", "GZIP", "BZIP2", "MAKEFILES",
        "CC", "CXX", "CPP", "KUBECONFIG", "NETRC", "CURL_HOME", "WGETRC", "SSLKEYLOGFILE",
    }
)  # fmt: skip

# Every name starting with one of these.
LOADER_PREFIXES: tuple[str, ...] = (
    "LD_",  # LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...
    "DYLD_",  # macOS's loader
    "PYTHON",  # PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, PYTHONWARNINGS, ...
    "PERL5",  # PERL5LIB, PERL5OPT, PERL5DB
    "PERLLIB",
    "BASH_",  # BASH_ENV, BASH_FUNC_*, BASH_XTRACEFD, BASH_LOADABLES_PATH, ...
    "LUA_",  # LUA_INIT runs code; LUA_PATH, LUA_CPATH
    "CORECLR_",  # .NET profilers
    "COR_",
    "GIT_",  # GIT_SEQUENCE_EDITOR, GIT_SSH, GIT_EXEC_PATH, GIT_CONFIG_*, GIT_ASKPASS, GIT_SSL_*, ...
    "LESS",  # LESS, LESSOPEN, LESSCLOSE, LESSKEY, LESSEDIT
    "VIM",  # VIMINIT, VIMRUNTIME
    "NPM_CONFIG_",  # npm reads every setting (script-shell, registry, ...) from here
    "YARN_",
    "PIP_",  # PIP_INDEX_URL, PIP_CERT: where packages come from
    "UV_",
    "SYSTEMD_",  # SYSTEMD_PAGER, SYSTEMD_EDITOR, ...
    "SSH_",  # SSH_ASKPASS, SSH_AUTH_SOCK (whose agent signs)
    "SUDO_",  # SUDO_ASKPASS, SUDO_EDITOR
    "XDG_",  # XDG_CONFIG_HOME moves every tool's config (git's core.pager, ...)
    "SSL_",  # SSL_CERT_FILE, SSL_CERT_DIR: whom TLS trusts
    "NODE_TLS_",  # NODE_TLS_REJECT_UNAUTHORIZED
    # clouds' credentials and endpoints: a vault must not choose whose account a tool acts as
    "AZURE_",
    "ARM_",
    "IDENTITY_",
    "MSI_",
    "IMDS_",
    "AWS_",
    "GOOGLE_",
    "GCE_",
    "CLOUDSDK_",
    "KUBE",
    "DOCKER_",  # DOCKER_HOST, DOCKER_CONFIG, DOCKER_CERT_PATH, ...
    "KVCTL_",  # kvctl's own settings: a vault could redirect a nested kvctl
    "_KVCTL_",
)

# Every name ending in one of these: helpers that programs run, proxies, trust anchors, and
# command-line options read from the environment (TAR_OPTIONS, JAVA_TOOL_OPTIONS, MAVEN_OPTS,
# XZ_OPT, RUBYOPT, MAKEFLAGS, GOFLAGS, ...), which can name scripts, plugins or files to write.
LOADER_SUFFIXES: tuple[str, ...] = (
    "EDITOR",  # EDITOR, GIT_SEQUENCE_EDITOR, SUDO_EDITOR, ...
    "PAGER",  # PAGER, MANPAGER, *_PAGER
    "ASKPASS",
    "PROXY",  # HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, FTP_PROXY, in any case
    "CA_BUNDLE",  # REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, AWS_CA_BUNDLE
    "CA_CERTS",
    "OPTIONS",
    "OPTS",
    "OPT",
    "FLAGS",
)


def loads_code(name: str) -> bool:
    """True for a variable that changes how programs load code, where they connect or whom they
    trust (compared case-insensitively, since Windows' environment is and proxies are read in
    either case)."""
    upper = name.upper()
    return upper in LOADER_NAMES or upper.startswith(LOADER_PREFIXES) or upper.endswith(LOADER_SUFFIXES)
