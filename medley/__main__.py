"""`python -m medley` / `medley`: tiny entry point; commands import lazily."""

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    if os.environ.get("MEDLEY_NO_VENV") != "1":
        from medley._venv import ensure_pipeline_env

        ensure_pipeline_env(argv)
    from medley.cli import main as cli_main

    sys.exit(cli_main(argv, os.environ))


if __name__ == "__main__":
    main()
