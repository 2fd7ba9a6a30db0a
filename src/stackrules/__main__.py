"""`python -m stackrules` runs the command line."""

from stackrules.cli import main

main()
