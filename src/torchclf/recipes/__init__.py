"""The lesson's experiments as TOML files, each promising the accuracy it reaches."""

from __future__ import annotations

from importlib import resources

from torchclf.errors import UserError


def names() -> list[str]:
    """Every built-in recipe, sorted."""
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".toml"))


def text(name: str) -> str:
    """The recipe's TOML, as shipped."""
    if name not in names():
        from torchclf.registry import unknown_name
        raise unknown_name("recipe", name, names())
    return resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def load(name: str):
    """The recipe as a RunConfig."""
    from torchclf.config import from_dict, tomllib
    return from_dict(tomllib.loads(text(name)), f"recipe {name}")


def reached(config, test_accuracy: float) -> bool:
    """Did the run keep the recipe's promise (at least, or for a failing model at most)?"""
    if config.expect_test_accuracy is None:
        raise UserError(f"recipe {config.name} states no expected accuracy")
    if config.expect_at_most:
        return test_accuracy <= config.expect_test_accuracy
    return test_accuracy >= config.expect_test_accuracy
