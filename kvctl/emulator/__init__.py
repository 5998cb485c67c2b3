"""A local, faithful Azure Key Vault (secrets) + ARM + managed-identity emulator.

Usable on its own: it imports nothing from kvctl.cli, kvctl.core or azure.*.

    from kvctl.emulator import Emulator, EmulatorOptions
    with Emulator(EmulatorOptions()) as emulator:
        print(emulator.info["vaults"][0]["url"])
"""

from .knobs import KnobSettings
from .service import Emulator, EmulatorOptions

__all__ = ["Emulator", "EmulatorOptions", "KnobSettings"]
