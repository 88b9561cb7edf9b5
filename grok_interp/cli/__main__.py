"""``python -m grok_interp.cli``: the grok-interp command."""

from grok_interp.cli import main

raise SystemExit(main())
