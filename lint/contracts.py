"""An import-linter contract that the stock types do not offer.

``no_ancestor_imports``: no module imports a package it belongs to. Such an import runs the
package's ``__init__`` from inside it, a cycle that ``acyclic_siblings`` (which compares
siblings) cannot see, and it hides which sibling the name really comes from.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


class NoAncestorImports(Contract):
    """Options: ``packages``, the top-level packages to check."""

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        found = sorted(
            (module, imported)
            for package in self.packages  # type: ignore[attr-defined]
            for module in (graph.find_descendants(package) | {package})
            for imported in graph.find_modules_directly_imported_by(module)
            if module.startswith(imported + "."))
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        found: list[Any] = check.metadata["found"]
        for module, package in found:
            output.print_error(f"{module} imports {package}, a package it belongs to: import the sibling module")
