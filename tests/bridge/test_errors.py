import inspect

import bridge.errors as errors


def _classes():
    return [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.GatewayError)]


def test_every_error_class_has_a_distinct_default_code():
    codes = [c.default_code for c in _classes()]
    assert len(codes) == len(set(codes))
    assert all(code.startswith("GW-") and len(code) == 7 for code in codes)


def test_the_tree_is_drawn_in_the_module_docstring():
    for cls in _classes():
        assert cls.__name__ in errors.__doc__


def test_stage_digit_matches_the_branch():
    branches = {
        errors.CodecError: "1",
        errors.MappingError: "2",
        errors.TerminologyError: "3",
        errors.ConformanceError: "4",
        errors.DeliveryError: "5",
        errors.RequestError: "6",
        errors.ConfigError: "7",
    }
    for cls in _classes():
        for base, digit in branches.items():
            if issubclass(cls, base):
                assert cls.default_code[3] == digit, cls


def test_errors_are_exported():
    assert set(errors.__all__) == {c.__name__ for c in _classes()}
