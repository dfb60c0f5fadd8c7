"""``python -m sklearn_vpnn ...`` runs the ``sklearn-vpnn`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
