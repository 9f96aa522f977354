"""Sphinx configuration for the smppd documentation.

Build (warnings are errors; no network is needed)::

    tox -e docs
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys

# The API page imports smppd: from an installed package (tox) or, failing
# that, from this checkout.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from smppd import __version__  # noqa: E402

project = "smppd"
author = "the smppd authors"
copyright = "the smppd authors"  # noqa: A001
version = __version__
release = __version__

extensions = [
    "sphinx.ext.autodoc",
]

# No intersphinx: the build must not touch the network.
root_doc = "index"
exclude_patterns = ["_build", "examples"]
templates_path: list[str] = []
html_static_path: list[str] = []

html_theme = "alabaster"
html_title = f"smppd {release}"
html_theme_options = {
    "description": "SMPP v3.4 SMSC server and ESME client on Twisted",
    "fixed_sidebar": True,
}

pygments_style = "sphinx"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {
    "members": True,
    "show-inheritance": False,
}
# Type hints name Twisted, attrs and zope classes that are not documented here.
nitpicky = False
