"""The command line starts without importing torch where it does not need it (help, dataset list)."""
import subprocess
import sys

import pytest

from graphcl.configs import config_names
from graphcl.methods import get_method_class

PROBE = """
import sys
from graphcl.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "torch_geometric", "sklearn", "scipy") if m in sys.modules)
print("HEAVY", heavy)
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["bench", "--help"],
                                  ["bench", "clustering", "--help"], ["bench", "hetero", "--help"],
                                  ["bench", "graph", "--help"], ["bench", "rec", "--help"], ["datasets"]])
def test_help_and_the_dataset_list_import_no_torch(argv):
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout[-500:]


def test_the_built_in_methods_are_the_configs_the_cli_lists():
    for name in config_names():  # every config names a registered built-in method
        assert get_method_class(name).__module__.startswith("graphcl.methods.")
    from graphcl.methods.base import _METHODS

    built_in = {name for name, cls in _METHODS.items() if cls.__module__.startswith("graphcl.methods.")}
    assert built_in == set(config_names())


def test_an_unknown_method_is_one_line_with_the_choices():
    done = subprocess.run([sys.executable, "-m", "graphcl", "train", "nosuch", "--dataset", "cora"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "invalid choice: 'nosuch'" in done.stderr and "grace" in done.stderr


def test_every_public_name_of_graphcl_data_resolves_from_its_module():
    import graphcl.data as data

    assert set(data.__all__) == set(data._EXPORTS)
    for name in data.__all__:
        assert getattr(data, name) is getattr(__import__(f"graphcl.data.{data._EXPORTS[name]}", fromlist=[name]), name)
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        data.nosuch
