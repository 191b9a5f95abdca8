"""`python -m routecore` is the `routecore` command."""

from routecore.cli import main

main()
