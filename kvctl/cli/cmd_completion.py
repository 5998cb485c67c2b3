"""completion: print the shell completion script."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    from click.shell_completion import get_completion_class

    from .main import cli

    completion_class = get_completion_class(shell)
    assert completion_class is not None
    return completion_class(cli, {}, "kvctl", "_KVCTL_COMPLETE").source()


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
      bash:  eval "$(kvctl completion bash)"          (or save it to completions/)
      zsh:   eval "$(kvctl completion zsh)"
      fish:  kvctl completion fish > ~/.config/fish/completions/kvctl.fish
    """
    click.echo(completion_script(shell), nl=False)
