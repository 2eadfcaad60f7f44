"""mnemodb never requires crewai: the integration module imports it only when used."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_integration_does_not_import_crewai():
    code = (
        "import sys, mnemodb, mnemodb.integrations.crewai as m\n"
        "assert 'crewai' not in sys.modules, 'crewai imported'\n"
        "assert callable(m.install) and 'MnemoStorage' in dir(m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
