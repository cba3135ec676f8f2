"""``python -m har``: see ``har.cli``."""

from har.cli import main_entry

main_entry()
