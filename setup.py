"""Everything about the project is in pyproject.toml but this: the packages are `bot` and its
subpackages, found, plus `bot.templates` and `bot.locales`, which pyproject.toml's
`package-dir` maps to the top-level `templates/` and `locales/` so that the wheel carries them
inside the package. (pyproject.toml cannot list packages by name and find others.)"""

from setuptools import find_namespace_packages, setup

setup(packages=[*find_namespace_packages(include=["bot", "bot.*"]), "bot.templates",
                "bot.locales"])
