"""Which project files are synced: settings excludes, ``.gitignore`` and ``.vpignore``.

One matcher decides for both transports: :class:`IgnoreRules` answers for the
SFTP fallback and turns itself into an rsync filter file, so rsync and SFTP
sync the same files.

Semantics (git's, last matching rule wins):

* ``sync.exclude`` from the settings comes first (rsync syntax: a pattern with
  a ``/`` inside matches at any depth unless it starts with ``/``);
* then every ``.gitignore`` (root first, then subdirectories, each scoped to
  its directory), then every ``.vpignore`` the same way, so ``.vpignore`` has
  the last word, e.g. ``!data/small.csv`` re-includes a file ``.gitignore``
  excludes, or ``!.env`` one the settings exclude;
* ``!pattern`` re-includes, ``pattern/`` matches directories only, a leading
  ``/`` or a ``/`` inside anchors the pattern to its file's directory, ``**``
  spans directories; as in git, nothing inside an excluded directory can be
  re-included;
* glob syntax is git's, compiled by :mod:`pathspec` (``pathspec.GitIgnoreSpec``);
  a line git cannot use (an unclosed or empty ``[`` class such as ``a[]b.txt``,
  a trailing lone backslash) is skipped the way git skips it: it matches
  nothing and is left out of the rsync filter too. So is a line pathspec
  rejects, such as the reversed range ``[z-a]``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pathspec

Syntax = Literal["gitignore", "rsync"]

IGNORE_FILES = (".gitignore", ".vpignore")


@dataclass(frozen=True)
class Rule:
    """One pattern line, scoped to the directory of the file it came from."""

    pattern: str
    """The pattern without ``!``, leading ``/`` and trailing ``/``."""
    negated: bool
    dir_only: bool
    anchored: bool
    """Matches relative to ``base`` only (else at any depth below it)."""
    base: str
    """Directory the rule applies in: ``""`` for the project, else ``"sub/dir/"``."""
    source: str
    syntax: Syntax
    regex: re.Pattern[str] = field(compare=False, repr=False)
    """Matches the paths the pattern names, relative to ``base``."""

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether the rule applies to ``path`` (relative, ``/``-separated)."""
        if self.dir_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base):
                return False
            path = path[len(self.base) :]
        return self.regex.search(path) is not None

    def rsync_patterns(self) -> list[str]:
        """The same rule as rsync patterns (without the ``+``/``-`` prefix)."""
        suffix = "/" if self.dir_only else ""
        if self.anchored:
            patterns = [f"/{self.base}{self.pattern}{suffix}"]
        elif self.syntax == "rsync" or not self.base:
            patterns = [f"{self.pattern}{suffix}"]
        else:
            patterns = [
                f"/{self.base}**/{self.pattern}{suffix}",
                f"/{self.base}{self.pattern}{suffix}",
            ]
        # rsync's "/**/" needs at least one directory and a leading "**/" one
        # parent; git's match none too.
        expanded: list[str] = []
        for pattern in patterns:
            for variant in _zero_dir_variants(pattern):
                expanded.append(variant)
                if variant.startswith("**/") and len(variant) > 3:
                    expanded.append(variant[3:])
        return list(dict.fromkeys(expanded))


def _zero_dir_variants(pattern: str) -> list[str]:
    """``a/**/b`` as rsync patterns matching zero or more directories: ``a/**/b``, ``a/b``."""
    index = pattern.find("/**/")
    if index < 0:
        return [pattern]
    head, rest = pattern[:index], pattern[index + 3 :]
    tails = _zero_dir_variants(rest)
    return [head + "/**" + tail for tail in tails] + [head + tail for tail in tails]


_DIR_MARK = "ps_d"
"""pathspec's name for the group that matches the ``/`` after a directory a pattern named,
i.e. a match of one of the path's parents rather than of the path itself."""


def _compile(glob: str, anchored: bool) -> re.Pattern[str] | None:
    """A regex matching exactly the paths ``glob`` names (relative to the rule's base),
    or None when git would never match anything with it."""
    line = ("/" if anchored else "**/") + glob
    # A class such as "[[]" compiles to a regex Python warns about ("possible nested set").
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            patterns = pathspec.GitIgnoreSpec.from_lines([line]).patterns
        except (ValueError, re.error):  # e.g. a trailing lone backslash, or "[z-a]"
            return None
        regex = patterns[0].regex if patterns else None
        if regex is None or patterns[0].include is None:  # e.g. "a[]b.txt"
            return None
        if _DIR_MARK not in regex.groupindex:
            return re.compile(regex.pattern, re.S)
        # pathspec also matches everything below a directory the pattern names; refuse
        # those matches: the rules judge each path by itself and the walk prunes.
        return re.compile(f"(?:{regex.pattern})(?({_DIR_MARK})(?!))", re.S)


def parse_rule(
    line: str, base: str = "", source: str = "", syntax: Syntax = "gitignore"
) -> Rule | None:
    """One line of an ignore file (or one settings pattern) as a rule; None for blanks/comments."""
    text = line.rstrip("\n").rstrip("\r")
    if syntax == "gitignore":
        # Trailing spaces are ignored unless escaped with a backslash.
        stripped = text.rstrip(" ")
        if stripped.endswith("\\") and len(stripped) < len(text):
            stripped += " "
        text = stripped
        if not text or text.startswith("#"):
            return None
    else:
        text = text.strip()
        if not text:
            return None
    negated = False
    if syntax == "gitignore" and text.startswith("!"):
        negated = True
        text = text[1:]
    elif text.startswith(("\\!", "\\#")):
        text = text[1:]
    dir_only = text.endswith("/") and len(text) > 1
    text = text.rstrip("/") if dir_only else text
    if not text or text == "/":
        return None
    if text.startswith("/"):
        anchored, text = True, text.lstrip("/")
    elif syntax == "gitignore" and "/" in text:
        if text.startswith("**/") and "/" not in text[3:]:
            anchored, text = False, text[3:]  # "**/name" is just "name" at any depth
        else:
            anchored = True
    else:
        anchored = False
    regex = _compile(text, anchored)
    if regex is None:
        return None
    return Rule(text, negated, dir_only, anchored, base, source, syntax, regex)


@dataclass
class IgnoreRules:
    """An ordered list of rules; the last one matching a path decides."""

    rules: list[Rule] = field(default_factory=list)

    def extend(self, rules: Iterable[Rule]) -> None:
        """Add rules of higher precedence."""
        self.rules.extend(rules)

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether the rules exclude ``path`` itself (its parents are not looked at)."""
        for rule in reversed(self.rules):
            if rule.matches(path, is_dir):
                return not rule.negated
        return False

    def excluded(self, path: str, is_dir: bool) -> bool:
        """Whether ``path`` is left out, by itself or because a parent directory is."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if self.ignored("/".join(parts[:depth]), True):
                return True
        return self.ignored(path, is_dir)

    def walk(self, root: Path) -> Iterator[tuple[str, os.stat_result]]:
        """Every path under ``root`` that is synced, parents before children, as
        (relative path, lstat); excluded directories are not entered."""
        yield from self._walk(root, "")

    def _walk(self, directory: Path, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except FileNotFoundError:
            return
        for entry in entries:
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            is_dir = entry.is_dir(follow_symlinks=False)
            if self.ignored(rel, is_dir):
                continue
            yield rel, st
            if is_dir:
                yield from self._walk(Path(entry.path), rel + "/")

    def rsync_filter(self) -> str:
        """The rules as an rsync merge file (first match wins there, so reversed)."""
        lines = []
        for rule in reversed(self.rules):
            sign = "+" if rule.negated else "-"
            lines += [f"{sign} {pattern}" for pattern in rule.rsync_patterns()]
        return "".join(line + "\n" for line in lines)


def load_rules(
    project: Path,
    excludes: Sequence[str] = (),
    *,
    gitignore: bool = True,
    vpignore: bool = True,
) -> IgnoreRules:
    """The rules for a project: ``excludes`` (rsync syntax), then every ``.gitignore``,
    then every ``.vpignore`` found in directories that are themselves synced."""
    rules = IgnoreRules()
    rules.extend(
        rule
        for pattern in excludes
        if (rule := parse_rule(pattern, "", "settings", "rsync")) is not None
    )
    names = [
        name for name, wanted in zip(IGNORE_FILES, (gitignore, vpignore), strict=True) if wanted
    ]
    found: dict[str, list[Rule]] = {name: [] for name in names}
    # Walk top-down so that a file's rules are known before its subdirectories are
    # entered; the rules of one kind from deeper files come later (win).
    pending = [""]
    while pending:
        rel_dir = pending.pop(0)
        directory = project / rel_dir if rel_dir else project
        for name in names:
            path = directory / name
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
                continue
            source = rel_dir + name
            found[name] += [
                rule
                for line in text.split("\n")
                if (rule := parse_rule(line, rel_dir, source)) is not None
            ]
        current = IgnoreRules(rules.rules + [r for name in names for r in found[name]])
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                rel = rel_dir + entry.name
                if not current.ignored(rel, True):
                    pending.append(rel + "/")
    for name in names:
        rules.extend(found[name])
    return rules
