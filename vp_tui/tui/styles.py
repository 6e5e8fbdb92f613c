"""Rich styles written with the app's theme variables (``"bold $success"``)."""

from __future__ import annotations

from textual.app import App


def theme_style(app: App[object], spec: str) -> str:
    """``spec`` with every ``$variable`` replaced by the current theme's value."""
    variables = app.theme_variables
    for name in sorted(variables, key=len, reverse=True):
        token = f"${name}"
        if token in spec:
            spec = spec.replace(token, variables[name])
    return spec
