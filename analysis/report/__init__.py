"""The physiology and statistics report (HTML with embedded figures); see :mod:`.html`."""
