"""Declarations shared by every package (roles, command-line parsing, reference-data vocabularies).

Pure data and the standard library only: ``common`` imports nothing of the project's, so
``kiosk``, ``sync`` (the central included), ``hardware_sim``, ``ui`` and ``linfen`` can all
import it without breaking DESIGN §2's import rules.
"""
