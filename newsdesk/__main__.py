"""``python -m newsdesk`` runs the CLI."""

from newsdesk.cli.main import main

main()
