"""Ignore rules and project sync (rsync and SFTP), against a real sshd and a demo SSH host.

The rsync cases skip without rsync (and fail under ``VP_REQUIRE_SSHD=1``, see
``requirements``); CI runs this file once more with ``VP_HIDE_RSYNC=1``, where
they skip on purpose and every sync goes over SFTP.
"""

from __future__ import annotations

import getpass
import itertools
import os
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from requirements import require

from vp_tui.config import DEFAULT_EXCLUDES
from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import SSHEndpoint
from vp_tui.remote.ignore import IgnoreRules, load_rules, parse_rule
from vp_tui.remote.keys import HostAlias, Identity
from vp_tui.remote.ssh import Remote
from vp_tui.remote.sync import RSYNC_INSTALL_SCRIPT, Syncer, SyncProgress

if TYPE_CHECKING:
    from sshd_fixture import TransportHost, _DemoServer

pytest_plugins = ["sshd_fixture"]

# ------------------------------------------------------------------- ignore rules

TREE = [
    "a.py",
    "a.pyc",
    "b.log",
    "important.log",
    "logs/x.log",
    "logs/keep.txt",
    "build/out.bin",
    "src/build/gen.py",
    "src/main.py",
    "src/util.py",
    "src/deep/x/y/z.tmp",
    "src/deep/x/y/ok.py",
    "data/big.csv",
    "data/small.csv",
    "data/sub/more.csv",
    "docs/a/b/c.md",
    "docs/c.md",
    "name with space.txt",
    "ünïcødé/ファイル.txt",
    ".env",
    ".git/HEAD",
    "node_modules/x/index.js",
    "sub/foo",
    "sub/x/foo",
    "sub/x/y/foo",
    "foo",
    "tmp/",
    "keep/tmp/file",
    "x.tmp",
]

CASES: list[tuple[str, str]] = [
    ("", ""),
    ("*.log\n!important.log\n", ""),
    ("logs/\n!logs/keep.txt\n", ""),
    ("/build\n", ""),
    ("build/\n", ""),
    ("src/**/*.tmp\n", ""),
    ("**/x/y\n", ""),
    ("docs/**/c.md\n", ""),
    ("data/*\n!data/small.csv\n", ""),
    ("*.csv\n", "!data/small.csv\n"),
    ("", "/foo\n"),
    ("tmp\n", ""),
    ("tmp/\n!keep/tmp\n", ""),
    ("*\n!*/\n!*.py\n", ""),
    ("name with space.txt\n", "ünïcødé/\n"),
    ("[ab].py*\n", ""),
    ("a/**\n", "docs/**\n"),
    ("# comment\n\\#not-a-comment\n  \n", "!.env\n"),
]
NESTED = {"sub/.gitignore": "foo\n!/x/foo\n", "src/.vpignore": "*.py\n!main.py\n"}


def _build(root: Path, files: list[str] = TREE) -> None:
    for name in files:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")


def _tree(root: Path) -> set[str]:
    found = set()
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


def _case_project(root: Path, gitignore: str, vpignore: str, nested: bool) -> None:
    _build(root)
    if gitignore:
        (root / ".gitignore").write_text(gitignore)
    if vpignore:
        (root / ".vpignore").write_text(vpignore)
    if nested:
        for name, text in NESTED.items():
            (root / name).write_text(text)


def test_rules_follow_git_semantics() -> None:
    rules = IgnoreRules()
    for line in ["*.log", "!keep.log", "build/", "/top", "a/b", "docs/**/x.md", "\\!bang"]:
        rule = parse_rule(line)
        assert rule is not None
        rules.extend([rule])
    assert rules.ignored("x.log", False) and rules.ignored("deep/x.log", False)
    assert not rules.ignored("keep.log", False)
    assert rules.ignored("build", True) and not rules.ignored("build", False)
    assert rules.ignored("top", False) and not rules.ignored("sub/top", False)
    assert rules.ignored("a/b", False) and not rules.ignored("x/a/b", False)
    assert rules.ignored("docs/x.md", False) and rules.ignored("docs/1/2/x.md", False)
    assert rules.ignored("!bang", False)
    assert rules.excluded("build/inside.txt", False)
    assert parse_rule("# comment") is None and parse_rule("   ") is None


def test_settings_patterns_use_rsync_syntax() -> None:
    rules = IgnoreRules()
    for pattern in ["a/b", "/top", "*.pyc"]:
        rule = parse_rule(pattern, syntax="rsync")
        assert rule is not None
        rules.extend([rule])
    assert rules.ignored("a/b", False) and rules.ignored("x/a/b", False)
    assert rules.ignored("top", False) and not rules.ignored("x/top", False)
    assert rules.ignored("x/y.pyc", False)


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
@pytest.mark.parametrize("gitignore,vpignore", CASES)
def test_rsync_filter_selects_what_the_matcher_selects(
    tmp_path: Path, gitignore: str, vpignore: str, nested: bool
) -> None:
    require("rsync")
    source, copy = tmp_path / "src", tmp_path / "copy"
    source.mkdir()
    _case_project(source, gitignore, vpignore, nested)
    rules = load_rules(source, DEFAULT_EXCLUDES)
    (tmp_path / "filter").write_text(rules.rsync_filter())
    subprocess.run(
        ["rsync", "-a", f"--filter=merge {tmp_path / 'filter'}", f"{source}/", f"{copy}/"],
        check=True,
    )
    assert _tree(copy) == {rel for rel, _ in rules.walk(source)}


def _git_untracked(root: Path) -> set[str]:
    """The files git would add in ``root`` (its ignore rules applied)."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--others", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    return {path for path in listed.split("\0") if path}


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
@pytest.mark.parametrize("gitignore", sorted({case[0] for case in CASES}))
def test_gitignore_matching_agrees_with_git(tmp_path: Path, gitignore: str, nested: bool) -> None:
    require("git")
    _build(tmp_path, [name for name in TREE if not name.startswith(".git/")])
    if gitignore:
        (tmp_path / ".gitignore").write_text(gitignore)
    if nested:
        (tmp_path / "sub/.gitignore").write_text(NESTED["sub/.gitignore"])
    rules = load_rules(tmp_path, [".git"], vpignore=False)
    ours = {rel for rel, st in rules.walk(tmp_path) if not (tmp_path / rel).is_dir()}
    assert ours == _git_untracked(tmp_path)


# Lines git cannot use as patterns (it skips them) next to odd ones it can.
ODD_LINES = ["a[]b.txt", "[]]", "x[", "[!]]x", "trailing\\", "*.log"]
ODD_FILES = ["a[]b.txt", "a]b.txt", "ab.txt", "]", "z", "x[", "ax", "]x", "trailing\\", "k.log"]


def test_lines_git_cannot_use_are_skipped_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _build(root, ODD_FILES)
    (root / ".gitignore").write_text("".join(line + "\n" for line in ODD_LINES))
    for line in ["a[]b.txt", "x[", "trailing\\", "[", "[!]", "[]", "[z-a]"]:
        assert parse_rule(line) is None, line  # (git matches "z" with "[z-a]"; pathspec nothing)
    rules = load_rules(root, [".git"])
    kept = {rel for rel, _ in rules.walk(root)}
    # "[]]" names the file "]"; "[!]]x" any two-character name ending in "x" but "]x".
    assert kept == {".gitignore", "a[]b.txt", "a]b.txt", "ab.txt", "z", "x[", "]x", "trailing\\"}
    assert "[]]" in rules.rsync_filter() and "a[]b.txt" not in rules.rsync_filter()


def test_lines_git_cannot_use_agree_with_git(tmp_path: Path) -> None:
    root = tmp_path / "project"
    require("git")
    _build(root, ODD_FILES)
    (root / ".gitignore").write_text("".join(line + "\n" for line in ODD_LINES))
    rules = load_rules(root, [".git"], vpignore=False)
    assert {rel for rel, _ in rules.walk(root)} == _git_untracked(root)


def test_rsync_filter_agrees_on_lines_git_cannot_use(tmp_path: Path) -> None:
    require("rsync")
    source, copy = tmp_path / "src", tmp_path / "copy"
    _build(source, ODD_FILES)
    (source / ".gitignore").write_text("".join(line + "\n" for line in ODD_LINES))
    rules = load_rules(source, [".git"])
    (tmp_path / "filter").write_text(rules.rsync_filter())
    subprocess.run(
        ["rsync", "-a", f"--filter=merge {tmp_path / 'filter'}", f"{source}/", f"{copy}/"],
        check=True,
    )
    assert _tree(copy) == {rel for rel, _ in rules.walk(source)}


PATHS = ["a", "a/b", "x/a", "a b/c.txt", "]", "ü/ß", "deep/er/still/x.py", "[", "\\"]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.text(st.sampled_from("ab*?[]!^-\\/# .xü:\r"), max_size=12) | st.text(max_size=12),
        max_size=6,
    ),
    syntax=st.sampled_from(["gitignore", "rsync"]),
)
def test_any_line_is_a_rule_or_nothing_never_an_error(lines: list[str], syntax: str) -> None:
    rules = IgnoreRules()
    for line in lines:
        rule = parse_rule(line, "sub/", ".gitignore", syntax)  # type: ignore[arg-type]
        if rule is not None:
            rules.extend([rule])
    for path in PATHS:
        for is_dir in (False, True):
            rules.ignored(path, is_dir)
            rules.excluded("sub/" + path, is_dir)
    rules.rsync_filter()


@settings(max_examples=50, deadline=None)
@given(text=st.text(st.sampled_from("ab*[]!\\/\n "), max_size=40))
def test_any_ignore_file_loads(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    root = tmp_path_factory.mktemp("any")
    _build(root, ["a", "b/a", "]", "a[]b"])
    (root / ".gitignore").write_text(text)
    (root / "b" / ".vpignore").write_text(text)
    rules = load_rules(root, DEFAULT_EXCLUDES)
    assert {rel for rel, _ in rules.walk(root)} <= _tree(root)
    rules.rsync_filter()


# -------------------------------------------------------------------------- sync


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def _syncer(
    remote: Remote, host: TransportHost, project: Path, method: str, **kwargs: object
) -> Syncer:
    return Syncer(
        remote,
        project,
        remote_dir=f"{host.remote_root}/proj",
        method=method,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["rsync", "sftp"])
def method(request: pytest.FixtureRequest) -> str:
    """Each sync test runs once per transport (the rsync one needs rsync here)."""
    if request.param == "rsync":
        require("rsync")
    return str(request.param)


def test_push_honours_settings_gitignore_and_vpignore(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    _case_project(project, "*.log\n!important.log\ndata/*\n!data/small.csv\n", "docs/\n", True)
    result = _syncer(remote, ssh_host, project, method).push()
    assert result.method == method
    copy = ssh_host.local_root / "proj"
    expected = {rel for rel, _ in load_rules(project, DEFAULT_EXCLUDES).walk(project)}
    assert _tree(copy) == expected
    for present in ["important.log", "data/small.csv", "src/main.py", "sub/x/foo", ".gitignore"]:
        assert present in expected
    for absent in [".git", ".env", "node_modules", "a.pyc", "b.log", "data/big.csv", "docs"]:
        assert absent not in expected
    assert "src/util.py" not in expected and "sub/foo" not in expected  # nested files
    assert result.files == sum(1 for rel in expected if (project / rel).is_file())


def test_push_keeps_odd_names_contents_and_times(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    names = [
        "with space.txt",
        "dir with space/ünï cødé ✓.txt",
        "-starts-with-dash.txt",
        "quote'n\"double.txt",
        "$HOME and `x`.txt",
        "日本/ファイル.bin",
    ]
    for index, name in enumerate(names):
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(range(256)) * (index + 1))
        os.utime(path, (1_600_000_000 + index, 1_600_000_000 + index))
    (project / "script.sh").write_text("#!/bin/sh\n")
    (project / "script.sh").chmod(0o755)
    _syncer(remote, ssh_host, project, method).push()
    copy = ssh_host.local_root / "proj"
    for index, name in enumerate(names):
        assert (copy / name).read_bytes() == (project / name).read_bytes()
        assert int((copy / name).stat().st_mtime) == 1_600_000_000 + index
    assert os.access(copy / "script.sh", os.X_OK)


def test_push_again_sends_only_changes_and_deletes_only_when_asked(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    _build(project, ["a.txt", "b.txt", "dir/c.txt"])
    (project / ".gitignore").write_text("*.log\n")
    syncer = _syncer(remote, ssh_host, project, method)
    assert syncer.push().files == 4
    assert syncer.push().files == 0
    (project / "b.txt").write_text("changed, and longer than before\n")
    again = syncer.push()
    assert (again.files, again.bytes) == (1, len("changed, and longer than before\n"))

    copy = ssh_host.local_root / "proj"
    (copy / "extra.txt").write_text("made on the instance")
    (copy / "run.log").write_text("excluded, so protected")
    (copy / "gone").mkdir()
    (copy / "gone" / "file").write_text("x")
    (project / "a.txt").unlink()
    syncer.push()
    assert (copy / "a.txt").exists() and (copy / "extra.txt").exists()
    result = syncer.push(delete=True)
    assert not (copy / "a.txt").exists()
    assert not (copy / "extra.txt").exists()
    assert not (copy / "gone").exists()
    assert (copy / "run.log").exists()
    assert (copy / "dir" / "c.txt").exists()
    assert result.deleted >= 3


def test_pull_brings_results_and_keeps_local_files(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    _build(project, ["train.py", "notes.txt"])
    (project / ".gitignore").write_text("outputs/\n*.ckpt\n")
    (project / ".vpignore").write_text("cache/\n")
    syncer = _syncer(remote, ssh_host, project, method)
    syncer.push()
    copy = ssh_host.local_root / "proj"
    _build(copy, ["outputs/metrics.json", "outputs/plots/loss.png", "model.ckpt", "cache/big"])
    (copy / "notes.txt").write_text("rewritten on the instance, but older\n")
    os.utime(copy / "notes.txt", (1_500_000_000, 1_500_000_000))
    (project / "local-only.txt").write_text("never on the instance")

    result = syncer.pull()
    assert result.direction == "pull" and result.method == method
    # .gitignore'd outputs come back, .vpignore'd ones do not.
    assert (project / "outputs/metrics.json").exists()
    assert (project / "outputs/plots/loss.png").exists()
    assert (project / "model.ckpt").exists()
    assert not (project / "cache").exists()
    # Nothing local is deleted or overwritten by something older.
    assert (project / "local-only.txt").exists()
    assert (project / "notes.txt").read_text() == "content of notes.txt\n"
    assert result.files == 3


def test_pull_named_paths_into_another_dir(
    ssh_host: TransportHost, remote: Remote, project: Path, tmp_path: Path, method: str
) -> None:
    _build(project, ["train.py"])
    (project / ".vpignore").write_text("outputs/\n*.tmp\n")
    syncer = _syncer(remote, ssh_host, project, method)
    syncer.push()
    copy = ssh_host.local_root / "proj"
    _build(copy, ["outputs/a.txt", "outputs/sub/b.txt", "outputs/x.tmp", "logs/run.txt", "other"])
    target = tmp_path / "results"
    result = syncer.pull(["outputs/", "logs/run.txt", "missing/"], dest=target)
    assert result.missing == ["missing"]
    # A named path comes back even if a rule excludes it; its contents follow the rules.
    assert _tree(target) == {
        "outputs",
        "outputs/a.txt",
        "outputs/sub",
        "outputs/sub/b.txt",
        "logs",
        "logs/run.txt",
    }
    assert not (project / "outputs").exists()
    with pytest.raises(ValueError):
        syncer.pull(["../etc"])


def test_progress_reaches_the_total(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    sizes = {"one.bin": 300_000, "two.bin": 700_000, "three.bin": 5}
    for name, size in sizes.items():
        (project / name).write_bytes(os.urandom(size))
    seen: list[SyncProgress] = []
    result = _syncer(remote, ssh_host, project, method).push(progress=seen.append)
    assert (result.files, result.bytes) == (3, sum(sizes.values()))
    assert seen and seen[-1].bytes == sum(sizes.values()) and seen[-1].files == 3
    assert all(a.bytes <= b.bytes for a, b in itertools.pairwise(seen))


def test_missing_rsync_on_the_instance_falls_back_to_sftp(
    ssh_host: TransportHost, remote: Remote, project: Path
) -> None:
    require("rsync")
    _build(project, ["a.txt", "sp ace/ü.txt"])
    syncer = _syncer(
        remote, ssh_host, project, "auto", remote_rsync="/nonexistent/rsync", install_rsync=False
    )
    result = syncer.push()
    assert result.method == "sftp"
    assert result.note is not None and "instance" in result.note
    assert (ssh_host.local_root / "proj" / "sp ace/ü.txt").exists()


def test_missing_local_rsync_falls_back_to_sftp(
    ssh_host: TransportHost, remote: Remote, project: Path
) -> None:
    _build(project, ["a.txt"])
    syncer = _syncer(remote, ssh_host, project, "auto", local_rsync="/nonexistent/rsync")
    result = syncer.push()
    assert result.method == "sftp"
    assert result.note == "rsync is not installed on this machine"
    assert (ssh_host.local_root / "proj" / "a.txt").exists()
    (ssh_host.local_root / "proj" / "new.txt").write_text("back")
    assert syncer.pull().method == "sftp"
    assert (project / "new.txt").read_text() == "back"


def test_rsync_install_script_uses_the_package_manager(
    ssh_host: TransportHost, remote: Remote, tmp_path: Path
) -> None:
    require("rsync")
    # An instance whose PATH has a package manager but no rsync (yet).
    bin_dir = ssh_host.local_root / "bin"
    bin_dir.mkdir()
    for tool in ("id", "env"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    rsync = shutil.which("rsync")
    apt = bin_dir / "apt-get"
    apt.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" install "*) /bin/ln -sf {rsync} "${{0%/*}}/rsync";; esac\n'
        'printf "%s %s\\n" "$DEBIAN_FRONTEND" "$*" >> "${0%/*}/apt.log"\n'
    )
    apt.chmod(0o755)
    remote_bin = f"{ssh_host.remote_root}/bin"
    script = "/bin/sh -c " + shlex.quote(RSYNC_INSTALL_SCRIPT)
    result = remote.run(f"PATH={remote_bin} {script}", timeout=60)
    assert result.rc == 0, result.err
    assert (bin_dir / "rsync").exists()
    log = (bin_dir / "apt.log").read_text()
    assert log.startswith("noninteractive ")
    assert "install --no-install-recommends rsync" in log

    # No package manager at all: a clear failure.
    apt.unlink()
    (bin_dir / "rsync").unlink()
    result = remote.run(f"PATH={remote_bin} {script}", timeout=60)
    assert result.rc != 0
    assert "no known package manager" in result.err


def test_too_old_local_rsync_falls_back_to_sftp(
    ssh_host: TransportHost, remote: Remote, project: Path, tmp_path: Path
) -> None:
    # macOS ships rsync 2.6.9 (or openrsync), which lacks the options used here.
    old = tmp_path / "old-rsync"
    old.write_text("#!/bin/sh\necho 'rsync  version 2.6.9  protocol version 29'\n")
    old.chmod(0o755)
    _build(project, ["a.txt"])
    result = _syncer(remote, ssh_host, project, "auto", local_rsync=str(old)).push()
    assert result.method == "sftp"
    assert result.note is not None and "too old (2.6)" in result.note


def test_remote_paths_for_old_rsync_survive_the_remote_shell() -> None:
    from vp_tui.remote.sync import _shell_escape_path

    for path in ["/work space/ü ✓/a'b\"c$d`e`(f)&g;h|i*j?k[l]", "-x/ plain", "a\\b"]:
        echoed = subprocess.run(
            ["sh", "-c", f"printf %s {_shell_escape_path(path)}"],
            capture_output=True,
            check=True,
        ).stdout.decode()
        assert echoed == path


# ------------------------------------------------- the whole /workspace of a demo host


@pytest.fixture
def workspace_host(demo_ssh: _DemoServer, tmp_path: Path) -> Iterator[tuple[Remote, Path]]:
    """A demo host of the test's own, whose whole ``/workspace`` the test may sync."""
    name = f"test:ws-{tmp_path.name}"
    sandbox = tmp_path / "workspace"
    sandbox.mkdir()
    host, port = demo_ssh.hosts.ensure_host(
        name, sandbox, authorized_keys=lambda: list(demo_ssh.authorized)
    )
    remote = Remote(
        SSHEndpoint(host=host, port=port, user=getpass.getuser()),
        HostAlias("test", f"ws-{tmp_path.name}"),
        identity=Identity(demo_ssh.key),
        connect_timeout=10,
    ).connect(timeout=30)
    try:
        yield remote, sandbox
    finally:
        remote.close()
        demo_ssh.hosts.remove_host(name)


def test_sftp_syncs_the_whole_workspace_of_a_demo_host(
    workspace_host: tuple[Remote, Path], project: Path
) -> None:
    remote, sandbox = workspace_host
    _build(project, ["train.py", "data/x.csv", "old.txt"])
    syncer = Syncer(remote, project, remote_dir="/workspace", method="sftp")
    assert syncer.push().files == 3
    assert _tree(sandbox) == {"train.py", "data", "data/x.csv", "old.txt"}
    assert syncer.push().files == 0  # what is there already is compared, not sent again
    (project / "old.txt").unlink()
    assert syncer.push(delete=True).deleted == 1
    assert not (sandbox / "old.txt").exists()

    _build(sandbox, ["outputs/weights ü.bin", "log.txt"])
    result = syncer.pull()
    assert (result.method, result.files) == ("sftp", 2)
    assert (
        project / "outputs" / "weights ü.bin"
    ).read_text() == "content of outputs/weights ü.bin\n"
    assert (project / "log.txt").exists()
    assert syncer.pull().files == 0


# ------------------------------------------------------------------------- cancelling


def test_stop_set_before_a_sync_cancels_it(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    _build(project, ["a.txt"])
    stop = threading.Event()
    stop.set()
    syncer = _syncer(remote, ssh_host, project, method)
    with pytest.raises(Cancelled):
        syncer.push(stop=stop)
    with pytest.raises(Cancelled):
        syncer.pull(stop=stop)
    assert not (ssh_host.local_root / "proj" / "a.txt").exists()


BIG = {"one.bin": 3_000_000, "two.bin": 3_000_000, "three.bin": 3_000_000}


def _stop_after_first_block(stop: threading.Event) -> Callable[[SyncProgress], None]:
    def progress(report: SyncProgress) -> None:
        if report.bytes > 0:
            stop.set()

    return progress


def _partials(root: Path) -> list[str]:
    return [name for name in _tree(root) if name.endswith(".vp-partial")]


def test_sftp_stops_within_a_file_and_leaves_no_partial_copy(
    ssh_host: TransportHost, remote: Remote, project: Path, tmp_path: Path
) -> None:
    for name, size in BIG.items():
        (project / name).write_bytes(os.urandom(size))
    syncer = _syncer(remote, ssh_host, project, "sftp")
    copy = ssh_host.local_root / "proj"
    stop = threading.Event()
    with pytest.raises(Cancelled):
        syncer.push(progress=_stop_after_first_block(stop), stop=stop)
    assert _partials(copy) == []
    assert not set(BIG) <= _tree(copy)

    assert syncer.push().files >= 1  # the rest
    assert _tree(copy) >= set(BIG)
    stop = threading.Event()
    dest = tmp_path / "back"
    with pytest.raises(Cancelled):
        syncer.pull(dest=dest, progress=_stop_after_first_block(stop), stop=stop)
    assert _partials(dest) == []
    assert not set(BIG) <= _tree(dest)
    assert remote.run("echo still usable").out == "still usable\n"


def test_cancelled_sftp_pulls_leave_the_connection_usable(
    ssh_host: TransportHost, remote: Remote, project: Path, tmp_path: Path
) -> None:
    # No read request may follow the SFTP session's close: OpenSSH drops the whole
    # connection (and every job stream on it) for one.
    copy = ssh_host.local_root / "proj"
    copy.mkdir()
    (copy / "large.bin").write_bytes(os.urandom(20_000_000))
    syncer = _syncer(remote, ssh_host, project, "sftp")
    for attempt in range(5):
        stop = threading.Event()
        dest = tmp_path / f"back-{attempt}"
        with pytest.raises(Cancelled):
            syncer.pull(dest=dest, progress=_stop_after_first_block(stop), stop=stop)
        assert _partials(dest) == []
        assert remote.is_connected
    assert syncer.pull().files == 1
    assert (project / "large.bin").read_bytes() == (copy / "large.bin").read_bytes()


def _rsync_children() -> list[int]:
    """rsync processes this test process started and that still run."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rpartition(")")[2].split()
        if name == "rsync" and int(fields[1]) == os.getpid() and fields[0] not in "ZX":
            found.append(int(entry))
    return found


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies do not count)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            return True
    return False


def test_stop_terminates_rsync_and_its_ssh(
    ssh_host: TransportHost, remote: Remote, project: Path
) -> None:
    require("rsync")
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc to see the rsync process")
    _build(project, ["a.txt"])
    # The instance's rsync takes its time to start: the transfer hangs until cancelled.
    syncer = _syncer(remote, ssh_host, project, "rsync", remote_rsync="sleep 60; rsync")
    stop = threading.Event()
    started: list[int] = []
    set_at: list[float] = []

    def cancel_once_rsync_runs() -> None:
        deadline = time.monotonic() + 30
        while not started and time.monotonic() < deadline:
            started.extend(_rsync_children())
            time.sleep(0.02)
        time.sleep(0.3)
        set_at.append(time.monotonic())
        stop.set()

    watcher = threading.Thread(target=cancel_once_rsync_runs)
    watcher.start()
    try:
        with pytest.raises(Cancelled):
            syncer.push(stop=stop)
        cancelled_at = time.monotonic()
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert started, "rsync never started"
    assert cancelled_at - set_at[0] < 10  # generous: the bound is a fraction of a second
    # rsync ran in a session of its own (its pid is the group id): rsync and ssh are gone.
    deadline = time.monotonic() + 10
    while _group_alive(started[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(started[0])
    assert _rsync_children() == []
