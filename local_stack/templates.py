"""Config templates of the local stack (``local_stack/conf``): ``@NAME@`` tokens filled in."""

from __future__ import annotations

import re
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent / "conf"


def render(template: str, out_dir: Path, **values: object) -> Path:
    """Write ``template`` with every ``@KEY@`` replaced into ``out_dir``; return its path."""
    text = (CONF_DIR / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    if missing := set(re.findall(r"@([A-Z_]+)@", text)):
        raise ValueError(f"{template}: no value for {sorted(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / template
    out.write_text(text)
    return out

