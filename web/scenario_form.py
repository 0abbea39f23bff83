"""A planner's copy of a scenario: the form's fields, read back into a scenario document, checked, saved.

The form shows the scenario's name, description and structure, every parameter of `ictgis.scenario.PARAMETERS` and
the plain values of each intervention (budgets, counts, heights, labels, with the ``optimize`` options of
``add_sites``). What the planner types is turned into the YAML document as typed (numbers as numbers, also written
the Vietnamese way: ``0,05``, ``30.000.000.000``); anything else stays text, and the document is checked by
`ictgis.scenario.read` — the rules of the YAML files, not a second set — against the served data. Its problems are
placed beside their fields, in Vietnamese (`message_vi`).

A copy is saved as a new file in the instance's scenario folder (``<instance>/scenarios``), never over another one:
the file is written beside its place and linked to a free name (``plan-2022-ban-sao.yaml``, then ``-2`` …), which
fails rather than replaces when another request took the name first.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ictgis import IctgisError, settings
from ictgis.scenario import INTERVENTIONS, OPTIMIZE_KEYS, PARAMETERS
from ictgis.scenario import read as read_scenario

#: Keys of an intervention the form never shows (structured values are edited in the YAML file).
HIDDEN_KEYS = frozenset({"type"})


@dataclass
class Field:
    """One input of the form.

    Attributes
    ----------
    name
        The input's name: ``name``, ``p.<parameter>``, ``i.<n>.<key>`` or ``i.<n>.optimize.<key>``.
    label
        What the page shows (the key itself for intervention values: they are the YAML's words).
    kind
        ``float``, ``int``, ``str``, ``bool`` or a tuple of choices.
    value
        The current value as text.
    """

    name: str
    label: str
    kind: object
    value: str
    error: str = ""

    @property
    def choices(self) -> tuple | None:
        """The values a select offers (a tuple kind, or true/false), None for a text input."""
        if isinstance(self.kind, tuple):
            return tuple(str(c) for c in self.kind)
        return ("true", "false") if self.kind is bool else None

    @property
    def numeric(self) -> bool:
        """Whether the field holds a number."""
        return self.kind in (int, float)


@dataclass
class Form:
    """The fields of a scenario copy, grouped: the scenario, its parameters, one group per intervention."""

    source: str
    groups: list[tuple[str, list[Field]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Field]:
        """Return the fields by name."""
        return {f.name: f for _, fs in self.groups for f in fs}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _scalar_kinds(spec_keys: dict) -> dict[str, object]:
    return {k: v for k, v in spec_keys.items() if v in (float, int, str, bool) or isinstance(v, tuple)}


def build_form(source: str, doc: dict, *, copy_name: str) -> Form:
    """Return the form of a scenario document (its values as the fields' values).

    Parameters
    ----------
    source
        The scenario file copied.
    doc
        The scenario document (as read from YAML).
    copy_name
        Name suggested for the copy.
    """
    form = Form(source)
    form.groups.append(("scenario", [
        Field("name", "name", str, copy_name),
        Field("description", "description", str, _text(doc.get("description"))),
        Field("structure", "structure", ("2019", "2025"), _text(doc.get("structure", "2019"))),
    ]))
    params = doc.get("parameters") or {}
    form.groups.append(("parameters", [
        Field(f"p.{k}", k, kind, _text(params.get(k, getattr(settings, k, None)))) for k, kind in PARAMETERS.items()
    ]))
    for i, item in enumerate(doc.get("interventions") or []):
        if not isinstance(item, dict) or item.get("type") not in INTERVENTIONS:
            continue
        spec = INTERVENTIONS[item["type"]]
        fields = [Field(f"i.{i}.{k}", k, kind, _text(item.get(k)))
                  for k, kind in _scalar_kinds(spec.keys).items() if k not in HIDDEN_KEYS]
        if "optimize" in spec.keys and isinstance(item.get("optimize"), dict):
            fields += [Field(f"i.{i}.optimize.{k}", f"optimize.{k}", kind, _text(item["optimize"].get(k)))
                       for k, kind in OPTIMIZE_KEYS.items()]
        form.groups.append((f"{i + 1}. {item['type']}", fields))
    return form


def parse_number(text: str, kind: object) -> object:
    """Read a number as typed (``0,05``, ``30.000.000.000``, ``-110``); text that is not a number stays text.

    Examples
    --------
    >>> parse_number("0,05", float), parse_number("30.000.000.000", float), parse_number("20", int)
    (0.05, 30000000000, 20)
    >>> parse_number("nhiều", float)
    'nhiều'
    """
    s = text.strip().replace(" ", "").replace("\u00a0", "").replace("_", "")
    if "," in s:  # the Vietnamese way: dots between thousands, a comma before decimals
        s = s.replace(".", "").replace(",", ".")
    elif s.count(".") > 1 or re.fullmatch(r"-?\d{1,3}(\.\d{3})+", s) and kind is int:
        s = s.replace(".", "")
    try:
        number = float(s)
    except ValueError:
        return text.strip()
    if number == int(number) and "." not in s and "e" not in s.lower():
        return int(number)
    return number


def _value(raw: str, kind: object) -> object:
    if kind in (float, int):
        return parse_number(raw, kind)
    if kind is bool:
        return {"true": True, "false": False, "1": True, "0": False, "on": True}.get(raw.strip().lower(),
                                                                                    raw.strip())
    return raw.strip() if kind is not str else raw.strip()


def apply_form(doc: dict, values: dict[str, str]) -> dict:
    """Return a new scenario document: `doc` with the form's values (an empty field removes its key)."""
    out = copy.deepcopy(doc)
    out["name"] = values.get("name", "").strip()
    description = values.get("description", "").strip()
    if description:
        out["description"] = description
    else:
        out.pop("description", None)
    out["structure"] = values.get("structure", "2019").strip() or "2019"
    params = dict(out.get("parameters") or {})
    for key, kind in PARAMETERS.items():
        raw = values.get(f"p.{key}", "")
        if raw.strip() == "":
            params.pop(key, None)
            continue
        value = _value(raw, kind)
        default = getattr(settings, key, None)
        if key in params or value != default:  # only what differs from the settings is written
            params[key] = value
    if params:
        out["parameters"] = params
    else:
        out.pop("parameters", None)
    for i, item in enumerate(out.get("interventions") or []):
        if not isinstance(item, dict) or item.get("type") not in INTERVENTIONS:
            continue
        spec = INTERVENTIONS[item["type"]]
        for key, kind in _scalar_kinds(spec.keys).items():
            if key in HIDDEN_KEYS or f"i.{i}.{key}" not in values:
                continue
            raw = values[f"i.{i}.{key}"]
            if raw.strip() == "":
                item.pop(key, None)
            else:
                item[key] = _value(raw, kind)
        if isinstance(item.get("optimize"), dict):
            for key, kind in OPTIMIZE_KEYS.items():
                name = f"i.{i}.optimize.{key}"
                if name not in values:
                    continue
                if values[name].strip() == "":
                    item["optimize"].pop(key, None)
                else:
                    item["optimize"][key] = _value(values[name], kind)
    return out


#: The engine's messages (`ictgis.scenario.read`) in Vietnamese, by pattern; others are shown as they are.
MESSAGES_VI: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"expected int, got"), "phải là một số nguyên"),
    (re.compile(r"expected float, got"), "phải là một số"),
    (re.compile(r"expected bool, got"), "phải là true (có) hoặc false (không)"),
    (re.compile(r"expected str, got"), "phải là chữ"),
    (re.compile(r"must not be negative"), "không được là số âm"),
    (re.compile(r"is not one of (?P<choices>.+)$"), "phải là một trong các giá trị: {choices}"),
    (re.compile(r"structure .* is not 2019 or 2025"), "cấu trúc hành chính phải là 2019 hoặc 2025"),
    (re.compile(r"missing required key 'name'"), "cần đặt tên cho kịch bản"),
    (re.compile(r"optimize needs (?P<what>.+)$"), "cần một trong: {what}"),
    (re.compile(r"needs either 'sites'"), "cần danh sách trạm (sites) hoặc tối ưu hóa (optimize)"),
    (re.compile(r"new site id (?P<id>.+) already exists"), "mã trạm mới {id} đã có trong dữ liệu"),
    (re.compile(r"a new site needs id"), "trạm mới cần mã (id) và tọa độ"),
    (re.compile(r"id (?P<id>.+) does not exist in the base data"), "mã {id} không có trong dữ liệu"),
    (re.compile(r"base data .* does not load"), "không đọc được dữ liệu gốc"),
)


def message_vi(message: str) -> str:
    """Return an engine message of `ictgis.scenario.read` in Vietnamese (its line number dropped)."""
    text = re.sub(r"^line \d+: ", "", message)
    for pattern, words in MESSAGES_VI:
        found = pattern.search(text)
        if found:
            return words.format(**found.groupdict())
    return text


def field_of(column: str | None, names: set[str]) -> str | None:
    """Return the form field a problem's key path (``parameters.discount_rate`` …) belongs to, if any."""
    if not column:
        return None
    parts = column.split(".")
    if parts[0] == "parameters" and len(parts) > 1:
        name = f"p.{parts[1]}"
    elif parts[0] == "interventions" and len(parts) > 2:
        name = "i." + ".".join(parts[1:4] if parts[2] == "optimize" else parts[1:3])
    else:
        name = parts[0]
    if name in names:
        return name
    prefix = name + "."
    return next((n for n in sorted(names) if n.startswith(prefix)), None)


def slug(name: str) -> str:
    """Return a file stem for a scenario name: ``Kế hoạch 2022 (bản sao)`` → ``ke-hoach-2022-ban-sao``."""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:80] or "kich-ban"


def check(doc: dict, *, folder: Path, base: Path) -> list:
    """Check a scenario document by the rules of the YAML files; return its problems (empty when it is valid).

    The document is written to a temporary file in `folder` and read with `ictgis.scenario.read` against `base`.
    """
    text = dump(doc)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".check-", suffix=".yaml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        read_scenario(tmp, check_base=True, base=base)
    except IctgisError as exc:
        return list(exc.problems) or [str(exc)]
    finally:
        Path(tmp).unlink(missing_ok=True)
    return []


def dump(doc: dict) -> str:
    """Return a scenario document as YAML (Unicode kept, keys in their order)."""
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=110)


def save_new(doc: dict, *, folder: Path, taken: set[str] = frozenset()) -> Path:
    """Save a scenario document as a new file in `folder`, named after its name; never replaces a file.

    Parameters
    ----------
    taken
        File names already used elsewhere (another scenario folder that is listed with this one).

    Returns
    -------
    pathlib.Path
        The new file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem = slug(str(doc.get("name") or ""))
    fd, tmp = tempfile.mkstemp(prefix=".new-", suffix=".yaml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dump(doc))
        os.chmod(tmp, 0o644)
        for n in range(1, 1000):
            target = folder / (f"{stem}.yaml" if n == 1 else f"{stem}-{n}.yaml")
            if target.name in taken:
                continue
            try:
                os.link(tmp, target)  # atomic, and fails when the name exists
            except FileExistsError:
                continue
            return target
        raise FileExistsError(f"no free file name for {stem}")
    finally:
        Path(tmp).unlink(missing_ok=True)
