"""``roost config``: show the effective configuration and where each value came from."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from roost.config import SCHEMA, Config, describe, env_name, load_config


def main(argv: Sequence[str]) -> int:
    """Run ``roost config`` with the arguments ``argv``; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="roost config", description="Inspect roost's configuration."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser(
        "show",
        help="print every key's effective value and where it came from",
        description="Print every configuration key's effective value and its source: "
        "the default, the configuration file, or an environment variable ROOST_SECTION_KEY.",
    )
    show.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    config = load_config()
    print(show_json(config) if args.json else show_text(config))
    return 0


def show_text(config: Config) -> str:
    """One ``section.key = value   (source)`` line per key, after the file and the home."""
    lines = [
        f"# file: {config.file if config.file is not None else 'none (defaults and environment)'}",
        f"# home: {config.home}",
    ]
    for section, key in SCHEMA:
        value = describe(config.get(section, key))
        lines.append(f"{section}.{key} = {value}   ({config.source(section, key)})")
    return "\n".join(lines)


def show_json(config: Config) -> str:
    """The file, the home, and per section and key the value, its source, its environment
    variable and its help."""
    values: dict[str, dict[str, dict[str, object]]] = {}
    for (section, key), spec in SCHEMA.items():
        values.setdefault(section, {})[key] = {
            "value": config.get(section, key),
            "source": config.source(section, key),
            "env": env_name(section, key),
            "help": spec.help,
        }
    document = {
        "file": str(config.file) if config.file is not None else None,
        "home": str(config.home),
        "values": values,
    }
    return json.dumps(document, indent=2)
