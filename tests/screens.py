"""Screenshots taken by the GUI tests: always into the test's temporary folder, never into the
tracked docs/img/ (a test run leaves the working tree clean). ``make screenshots`` (docs/screenshots.py)
runs these tests with ``MEXLAB_SCREENSHOTS=docs/img`` to refresh the documentation's images."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "MEXLAB_SCREENSHOTS"


def save_screenshot(widget, name: str, folder: Path) -> Path:
    """Grab ``widget`` into ``folder/name.png`` (a temporary folder), check it is not blank, and copy
    it to the folder named by MEXLAB_SCREENSHOTS when that is set."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    img = widget.grab()
    assert img.save(str(path)), f"could not write {path}"
    image = img.toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 17) for y in range(0, image.height(), 17)}
    assert len(colours) > 2, f"{name} looks blank"
    docs = os.environ.get(ENV)
    if docs:
        shutil.copyfile(path, Path(docs) / path.name)
    return path
