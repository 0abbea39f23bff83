"""Bounded YAML reading: alias bombs, recursive aliases, deep nesting and huge files are refused before expansion."""

from __future__ import annotations

import tracemalloc
import warnings
from pathlib import Path

import pytest
import yaml

from ictgis import LayerError, ScenarioError, io, scenario, yamlfile


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" scenario: `width` ** `levels` strings (9⁹ ≈ 387 million) in a few hundred bytes."""
    lines = ["name: bomb", "interventions: []", 'a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"description: *a{levels}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_file_and_line_before_expansion(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError) as info:
            scenario.read(path, check_base=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith("bomb.yaml: too large")
    (problem,) = info.value.problems
    # 9**6 = 531,441 > 100,000: the list anchored on line 9 (a6) is the first over the limit
    assert problem.file == "bomb.yaml" and problem.row == 9
    assert "line 9: expands to more than 100,000 values through its aliases" in problem.message
    assert peak < 20_000_000, peak  # nothing of the expansion was built


def test_aliases_within_the_limit_still_work():
    root, data = yamlfile.load("base: &b {x: 1}\none: *b\ntwo: [*b, *b]\n")
    assert data == {"base": {"x": 1}, "one": {"x": 1}, "two": [{"x": 1}, {"x": 1}]}
    assert isinstance(root, yaml.MappingNode)
    assert yamlfile.load("") == (None, None)


@pytest.mark.parametrize(("text", "message", "line"), [
    ("a: &a [1, *a]\n", "recursive alias", 1),
    ("x: 1\ny: &a {b: {c: *a}}\n", "recursive alias", 2),
    ("k: " + "[" * 150 + "]" * 150 + "\n", "nested deeper than 100 levels", 1),
])
def test_recursive_and_deep_documents_are_refused(text, message, line):
    with pytest.raises(yamlfile.YAMLTooLarge, match=message) as info:
        yamlfile.load(text)
    assert info.value.line == line


def test_a_file_beyond_one_megabyte_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndescription: " + "x" * yamlfile.MAX_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        scenario.read(path, check_base=False)
    assert "big.yaml: too large" in str(info.value)
    assert "larger than 1,000,000 bytes" in str(info.value.problems[0])
    assert str(tmp_path) not in str(info.value)


def test_invalid_yaml_still_reports_not_valid(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="bad.yaml: not valid YAML"):
        scenario.read(path, check_base=False)


def test_alias_bomb_in_layers_yaml_is_a_layer_error(tiny_dir: Path):
    (tiny_dir / "layers.yaml").write_text(alias_bomb().replace("name: bomb\ninterventions: []\n", ""),
                                          encoding="utf-8")
    with warnings.catch_warnings(), pytest.raises(LayerError) as info:
        warnings.simplefilter("ignore")
        io.load(tiny_dir)
    assert any("layers.yaml" in str(p) and "expands to more than 100,000 values" in str(p)
               for p in info.value.problems)
