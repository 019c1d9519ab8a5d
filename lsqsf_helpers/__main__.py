"""`python -m lsqsf_helpers` is the same as the `lsqsf` console script."""

from lsqsf_helpers.cli import main

raise SystemExit(main())
