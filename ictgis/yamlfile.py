"""Bounded YAML reading: a file size limit, and a limit on the values a document expands to through its aliases.

A YAML file of a few hundred bytes can expand to billions of values through nested aliases ("billion laughs":
``a: &a [x, x, …]``, ``b: &b [*a, *a, …]`` …). PyYAML keeps aliases as shared objects, but anything that walks or
prints the document (line maps, validation, ``str``) expands them. This loader counts, while composing, how many
values each node stands for once its aliases are expanded, and refuses the document as soon as one node exceeds
the limit, before anything is built from it; it also refuses recursive aliases and too deep nesting.

Limits (module attributes):

``MAX_BYTES``
    Largest file read (1 MB).
``MAX_VALUES``
    Most values (scalars, lists, mappings) a document may expand to (100,000).
``MAX_DEPTH``
    Deepest nesting of lists and mappings (100).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ._errors import IctgisError, Problem, ScenarioError

MAX_BYTES = 1_000_000
MAX_VALUES = 100_000
MAX_DEPTH = 100


class YAMLTooLarge(yaml.YAMLError):
    """A YAML text beyond the limits (size, expanded values, depth, recursive alias).

    Parameters
    ----------
    message
        What is too large.
    line
        1-based line where the limit was reached, or None for the whole file.
    """

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class BoundedLoader(yaml.SafeLoader):
    """A ``yaml.SafeLoader`` that refuses documents expanding to more than `max_values` values.

    Parameters
    ----------
    stream
        The YAML text.
    max_values
        Most values the document may stand for once its aliases are expanded.
    max_depth
        Deepest nesting of lists and mappings.
    """

    def __init__(self, stream: str, *, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH):
        super().__init__(stream)
        self.max_values = max_values
        self.max_depth = max_depth
        self._sizes: dict[int, int] = {}  # id(node) -> values it expands to (nodes stay alive in the tree)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D102  (PyYAML's hook)
        alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        line = mark.line + 1 if mark is not None else None
        self._depth += 1
        if self._depth > self.max_depth:
            raise YAMLTooLarge(f"nested deeper than {self.max_depth} levels", line)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        size = self._sizes.get(id(node))
        if size is None:
            if alias:  # an alias of a node still being composed: it contains itself
                raise YAMLTooLarge("recursive alias (a value that contains itself)", line)
            if isinstance(node, yaml.SequenceNode):
                size = 1 + sum(self._sizes[id(child)] for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                size = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
            else:
                size = 1
            if size > self.max_values:
                raise YAMLTooLarge(f"expands to more than {self.max_values:,} values through its aliases "
                                   f"(&anchor / *alias)", node.start_mark.line + 1)
            self._sizes[id(node)] = size
        return node


def read_text(path: str | Path, *, max_bytes: int = MAX_BYTES) -> str:
    """Read a UTF-8 text file of at most `max_bytes` bytes.

    Raises
    ------
    YAMLTooLarge
        When the file is larger.
    FileNotFoundError, UnicodeDecodeError
        As `pathlib.Path.read_text`.
    """
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YAMLTooLarge(f"the file is larger than {max_bytes:,} bytes")
    return data.decode("utf-8")


def load(text: str, *, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH) -> tuple[yaml.Node | None, object]:
    """Compose and construct one YAML document within the limits; return its node tree and its data.

    Raises
    ------
    YAMLTooLarge
        When the document expands beyond the limits.
    yaml.YAMLError
        When the text is not valid YAML.
    """
    loader = BoundedLoader(text, max_values=max_values, max_depth=max_depth)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


@dataclass(frozen=True)
class YamlDocument:
    """A YAML file read within the limits: its text, node tree (for line numbers) and data."""

    text: str
    root: yaml.Node | None
    data: object


def read(path: str | Path, *, error: type[IctgisError] = ScenarioError, label: str | None = None) -> YamlDocument:
    """Read a YAML file within the limits, raising one `error` that names the file and the line.

    Parameters
    ----------
    path
        The file.
    error
        The IctgisError class raised for a file that is too large or not valid YAML.
    label
        File name used in messages (default: the file's name, never its folder).

    Raises
    ------
    IctgisError
        Of class `error`: too large, or not valid YAML (with the line).
    FileNotFoundError
        When the file does not exist.
    """
    label = label or Path(path).name
    try:
        text = read_text(path)
        root, data = load(text)
    except YAMLTooLarge as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise error(f"{label}: too large", [Problem(label, f"{where}{exc}", row=exc.line)]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(f"{label}: not valid YAML", [Problem(label, str(exc))]) from None
    return YamlDocument(text=text, root=root, data=data)
