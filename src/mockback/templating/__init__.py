"""Templates: `$.` expressions in mock responses, callbacks and extraction rules.

A JSON value is compiled once with `compile_template` (when its mock is saved) and rendered per
request with `Template.render(RenderContext(...))`. The syntax is described in
docs/reference/templates.md.
"""

from __future__ import annotations

from mockback.templating.context import RenderContext
from mockback.templating.fake import FakeData
from mockback.templating.render import Template, compile_template, to_text

__all__ = ["FakeData", "RenderContext", "Template", "compile_template", "to_text"]
