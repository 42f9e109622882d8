"""Configuration: each default in one place, every YAML key a constructor parameter or a run setting."""
import inspect

import pytest
import yaml

from graphcl.configs import RunSettings, auto_grid, configured_datasets, load_config, parse_override, resolve_config
from graphcl.errors import InvalidArgumentError
from graphcl.methods import get_method_class, method_names, method_parameters
from graphcl.methods.base import check_parameters


def constructor_defaults(name: str) -> dict:
    """Every constructor default of a method, the subclass's winning over its parents'."""
    defaults = {}
    for cls in reversed(get_method_class(name).__mro__):
        if "__init__" in vars(cls) and isinstance(cls, type) and cls.__module__.startswith("graphcl"):
            for p in inspect.signature(cls.__init__).parameters.values():
                if p.default is not inspect.Parameter.empty:
                    defaults[p.name] = p.default
    return defaults


def yaml_sections(name: str) -> dict:
    from importlib import resources
    path = resources.files("graphcl.configs") / f"{name}.yaml"
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize("name", method_names())
def test_every_yaml_key_is_a_constructor_parameter_or_a_run_setting(name):
    valid = method_parameters(name) | RunSettings.keys()
    raw = yaml_sections(name)
    assert set(raw) <= {"defaults", "datasets", "auto"}, set(raw)
    for dataset in [None, *configured_datasets(name)]:
        config = load_config(name, dataset)
        assert set(config) <= valid, (dataset, set(config) - valid)
        resolve_config(name, dataset)  # run settings convert and pass their checks
    grid = auto_grid(name)
    if grid is not None:
        for candidate in grid.candidates():
            assert set(candidate) <= valid, set(candidate) - valid
            params, _ = resolve_config(name, None, candidate)
            check_parameters(name, {k: v for k, v in params.items() if k in candidate})


@pytest.mark.parametrize("name", method_names())
def test_no_constructor_default_disagrees_with_a_yaml_default(name):
    defaults = constructor_defaults(name)
    for key, value in (yaml_sections(name).get("defaults") or {}).items():
        if key in RunSettings.keys():
            continue
        assert key in defaults, f"{name}.yaml defaults: {key} is not a constructor parameter with a default"
        expected = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
        assert value == expected, f"{name}.yaml defaults: {key} = {value!r}, the constructor says {defaults[key]!r}"


def test_run_settings_convert_and_refuse_bad_values_in_one_line():
    settings = RunSettings.from_config({"epochs": "20", "lr": "0.01", "patience": None, "tau": 0.5,
                                        "normalize_features": ["paper"]})
    assert settings.epochs == 20 and settings.lr == 0.01 and settings.normalize_features == ["paper"]
    assert RunSettings().epochs == 200 and RunSettings.keys() >= {"epochs", "lr", "split", "train_restarts"}
    with pytest.raises(InvalidArgumentError, match="run setting lr .* cannot be 'abc'"):
        RunSettings.from_config({"lr": "abc"})
    with pytest.raises(InvalidArgumentError, match="split must be 'public' or 'random'"):
        RunSettings.from_config({"split": "half"})
    with pytest.raises(InvalidArgumentError, match="train_restarts must be >= 1"):
        RunSettings().replace(train_restarts=0)
    assert parse_override("metapaths=[[a, b, a]]") == ("metapaths", [["a", "b", "a"]])
    with pytest.raises(InvalidArgumentError, match="key=value"):
        parse_override("tau")
    with pytest.raises(InvalidArgumentError, match="not a YAML value"):
        parse_override("x=[1,")


def test_resolve_config_layers_yaml_dataset_section_and_overrides():
    params, settings = resolve_config("grace", "cora", {"tau": 0.9, "epochs": 3})
    assert params["out_channels"] == 256 and params["tau"] == 0.9  # cora's section, then the override
    assert settings.epochs == 3 and settings.split == "public"
    params, settings = resolve_config("grace", "some-new-graph")
    assert "out_channels" not in params  # the constructor's default applies
    assert settings.epochs == 200 and settings.lr == 0.0005  # grace.yaml's defaults
