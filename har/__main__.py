"""``python -m har``: see ``har.tools.cli``."""

from har.tools.cli import main_entry

main_entry()
