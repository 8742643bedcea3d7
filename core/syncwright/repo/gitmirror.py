"""Bare Git mirrors, one per normalized repo URL, driven through GitPython.

``ls-remote`` answers "which commit is this branch/tag now" with one round
trip; ``fetch`` runs only when that commit is missing from the mirror, under
the per-repo lock, and re-checks after taking it (so N concurrent renders at
a new SHA fetch once). Every git command has a timeout and runs with
credentials only in its environment (see ``creds.git_env``). GitPython is
imported here and nowhere else in syncwright, and only when first needed.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import metrics
from ..execution import redact
from .creds import Credentials, git_env
from .errors import AuthError, RepoError, RevisionNotFound, env_float, env_int
from .locks import repo_lock
from .semver import is_constraint, parse_constraint, parse_version
from .urls import safe, split_credentials, url_hash

#: Process-wide counters of git commands by kind (the benchmark and tests read them).
STATS: Counter[str] = Counter()
#: The argv of recent git commands (tests check no secret ever reaches a command line).
RECENT_ARGV: deque[tuple[str, ...]] = deque(maxlen=500)
_STATS_LOCK = threading.Lock()

_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")


def ls_remote_timeout() -> float:
    return env_float("SYNCWRIGHT_GIT_TIMEOUT", 30.0)


def fetch_timeout() -> float:
    return env_float("SYNCWRIGHT_GIT_FETCH_TIMEOUT", 300.0)


def _git_module() -> Any:
    import git  # GitPython: imported lazily so local renders never load it

    return git


def _classify(url: str, stderr: str, secrets: Sequence[str], timeout: float, op: str) -> RepoError:
    text = redact(stderr.strip(), secrets)
    low = text.lower()
    where = f"repo {safe(url)}"
    if "timeout:" in low and "did not complete" in low:
        return RepoError(f"{where}: git {op} did not finish within {timeout:g}s (unreachable or too slow)")
    if any(s in low for s in ("authentication failed", "could not read username", "could not read password",
                              "permission denied (publickey", "http 401", "http 403", "returned error: 401",
                              "returned error: 403", "invalid username or password")):
        return AuthError(f"{where}: authentication failed (check the credentials configured for this repository)")
    if "host key verification failed" in low:
        return RepoError(f"{where}: ssh host key is not in known_hosts (add it, or set insecure: true for this repo)")
    tail = text.splitlines()[-3:] if text else []
    detail = "; ".join(line.strip() for line in tail if line.strip()) or "git failed"
    return RepoError(f"{where}: git {op} failed: {detail}")


class Mirror:
    """The bare mirror of one repository inside ``<cache>/git/<hash>``."""

    def __init__(self, url: str, creds: Credentials, cache_dir: Path) -> None:
        self.url, _, _ = split_credentials(url)
        self.creds = creds
        self.dir = cache_dir / "git" / url_hash(url)
        self.lock_path = cache_dir / "git" / f"{url_hash(url)}.lock"
        self.dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Commits are immutable: once seen present (or listed), remember it for this process.
        self._present: set[str] = set()
        self._trees: dict[str, tuple[int, list[tuple[str, str]]]] = {}

    # -- running git ------------------------------------------------------------------
    def _git(self, args: Sequence[str], *, timeout: float, op: str, network: bool = False,
             cwd: Path | None = None) -> str:
        git = _git_module()
        argv = ("git", *args)
        RECENT_ARGV.append(argv)
        with _STATS_LOCK:
            STATS[op] += 1
        if network:
            failed = True
            try:
                with git_env(self.creds, timeout=timeout) as env:
                    out = self._exec(git, argv, env, timeout, op, cwd)
                failed = False
                return out
            finally:
                metrics.git_requested(safe(self.url), op, failed)
        return self._exec(git, argv, {"GIT_TERMINAL_PROMPT": "0"}, timeout, op, cwd)

    def _exec(self, git: Any, argv: tuple[str, ...], env: dict[str, str], timeout: float, op: str,
              cwd: Path | None) -> str:
        try:
            out: str = git.Git(str(cwd or self.dir.parent)).execute(
                list(argv), env=env, kill_after_timeout=timeout, strip_newline_in_stdout=False)
            return out
        except git.GitCommandError as e:
            raise _classify(self.url, str(e.stderr or ""), self.creds.secrets, timeout, op) from None
        except OSError as e:
            raise RepoError(f"cannot run git for repo {safe(self.url)}: {e.strerror}") from None

    def _local(self, *args: str, timeout: float = 60.0, op: str = "local") -> str:
        return self._git(["--git-dir", str(self.dir), *args], timeout=timeout, op=op)

    # -- mirror state --------------------------------------------------------------------
    def init(self) -> None:
        """Create the bare mirror if missing (call with the lock held)."""
        if (self.dir / "HEAD").exists():
            return
        self.dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._git(["init", "--bare", "-q", str(self.dir)], timeout=60, op="init")
        # Keep fetched objects in packs, which appear atomically; no background gc under readers.
        for key, value in (("fetch.unpackLimit", "1"), ("gc.auto", "0"), ("core.logAllRefUpdates", "false")):
            self._local("config", key, value, op="config")
        (self.dir.parent / f"{self.dir.name}.url").write_text(safe(self.url) + "\n")

    def has_commit(self, sha: str) -> bool:
        if sha in self._present:
            return True
        if not (self.dir / "HEAD").exists():
            return False
        try:
            self._local("cat-file", "-e", f"{sha}^{{commit}}", op="cat-file")
        except RepoError:
            return False
        self._present.add(sha)
        return True

    def rev_parse(self, rev: str) -> str | None:
        """A (short) SHA or ref name resolved in the mirror, or None."""
        if not (self.dir / "HEAD").exists():
            return None
        try:
            return self._local("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", op="rev-parse").strip() or None
        except RepoError:
            return None

    # -- network ---------------------------------------------------------------------
    def ls_remote(self) -> dict[str, str]:
        """Ref name → commit SHA on the remote (annotated tags peeled), plus ``HEAD``."""
        timeout = ls_remote_timeout()
        out = self._git(["ls-remote", "--", self.url], timeout=timeout, op="ls-remote", network=True)
        return parse_ls_remote(out)

    def fetch(self, sha: str | None) -> None:
        """Fetch branches and tags (and ``sha`` itself if still missing). Call with the lock held."""
        self.init()
        depth = env_int("SYNCWRIGHT_GIT_FETCH_DEPTH", 0)
        timeout = fetch_timeout()
        base = ["--git-dir", str(self.dir), "fetch", "--quiet", "--force", "--no-write-fetch-head"]
        if depth > 0 and sha:
            self._git([*base, f"--depth={depth}", "--", self.url, sha], timeout=timeout, op="fetch", network=True)
            self._local("update-ref", f"refs/syncwright/keep/{sha}", sha)
        else:
            self._git([*base, "--prune", "--", self.url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                      timeout=timeout, op="fetch", network=True)
            if sha and _HEX.match(sha) and len(sha) == 40 and not self.has_commit(sha):
                try:
                    self._git([*base, "--", self.url, sha], timeout=timeout, op="fetch", network=True)
                    self._local("update-ref", f"refs/syncwright/keep/{sha}", sha)
                except RepoError:
                    pass  # reported by the caller as "revision not found"
        self._check_size()

    def _check_size(self) -> None:
        limit = env_int("SYNCWRIGHT_GIT_MAX_REPO_BYTES", 2 * 1024**3)
        total = sum(f.stat().st_size for f in (self.dir / "objects").rglob("*") if f.is_file())
        if total > limit:
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)
            self._present.clear()
            self._trees.clear()
            raise RepoError(f"repo {safe(self.url)} is larger than the mirror limit of {limit} bytes "
                            "(SYNCWRIGHT_GIT_MAX_REPO_BYTES); the mirror was removed")

    def ensure_commit(self, sha: str) -> bool:
        """Make ``sha`` present in the mirror; True when a fetch was needed.

        Checked under the lock: while another thread or process fetches, a
        commit may already be readable before its trees are.
        """
        if sha in self._present:
            return False
        with repo_lock(self.lock_path, what=f"repo {safe(self.url)}"):
            if self.has_commit(sha):  # someone else fetched it while we waited
                return False
            self.fetch(sha)
            if not self.has_commit(sha):
                raise RevisionNotFound(f"repo {safe(self.url)}: commit {sha} not found after fetching")
            return True

    def ensure_commit_refs(self) -> None:
        """Fetch all branches and tags (to expand a short SHA); under the lock."""
        with repo_lock(self.lock_path, what=f"repo {safe(self.url)}"):
            self.fetch(None)

    # -- reading ---------------------------------------------------------------------
    def tree(self, sha: str) -> tuple[int, list[tuple[str, str]]]:
        """Total blob bytes and submodule entries (path, commit) of the tree at ``sha``; one git call."""
        cached = self._trees.get(sha)
        if cached is not None:
            return cached
        out = self._local("ls-tree", "-r", "-l", "-z", sha, op="ls-tree")
        total = 0
        links = []
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if len(parts) != 4:
                continue
            if parts[1] == "blob" and parts[3].isdigit():
                total += int(parts[3])
            elif parts[0] == "160000" and parts[1] == "commit":
                links.append((path, parts[2]))
        self._trees[sha] = (total, links)
        return total, links

    def submodule_urls(self, sha: str) -> dict[str, str]:
        """``.gitmodules`` at ``sha``: submodule path → url."""
        try:
            out = self._local("config", "--blob", f"{sha}:.gitmodules", "--get-regexp", r"^submodule\..*\.(path|url)$",
                              op="config")
        except RepoError:
            return {}
        paths: dict[str, str] = {}
        urls: dict[str, str] = {}
        for line in out.splitlines():
            key, _, value = line.partition(" ")
            name, _, attr = key[len("submodule."):].rpartition(".")
            (paths if attr == "path" else urls)[name] = value
        return {paths[n]: urls[n] for n in paths if n in urls}

    def archive(self, sha: str, output: Path) -> None:
        self._local("archive", "--format=tar", f"--output={output}", sha, timeout=fetch_timeout(), op="archive")

    def local_refs(self) -> dict[str, str]:
        if not (self.dir / "HEAD").exists():
            return {}
        out = self._local("for-each-ref", "--format=%(objectname) %(refname) %(*objectname)", op="for-each-ref")
        refs = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                refs[parts[1]] = parts[2] if len(parts) > 2 else parts[0]
        return refs


def parse_ls_remote(out: str) -> dict[str, str]:
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.strip().partition("\t")
        if not name:
            continue
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            refs[name] = sha
    refs.update(peeled)
    return refs


def resolve_in_refs(refs: dict[str, str], revision: str, *, url: str, tag_prefix: str = "") -> tuple[str | None, str]:
    """Resolve ``revision`` against remote refs as Argo CD does.

    Order: ``HEAD``/empty, an exact ref name, ``refs/heads/<rev>``,
    ``refs/tags/<rev>``, a full SHA (taken as is), a semver constraint over
    tags (highest match). Returns (sha, how) or (None, "short") for a
    possible short SHA the caller must look up in the mirror.
    """
    rev = revision.strip()
    if rev in ("", "HEAD"):
        sha = refs.get("HEAD")
        if sha is None:
            raise RevisionNotFound(f"repo {safe(url)} has no HEAD (empty repository?)")
        return sha, "HEAD"
    for name in (rev, f"refs/heads/{rev}", f"refs/tags/{rev}"):
        if name in refs:
            return refs[name], name
    if re.fullmatch(r"[0-9a-fA-F]{40}", rev):
        return rev.lower(), "commit"
    if is_constraint(rev):
        constraint = parse_constraint(rev)
        versions = {}
        for name, sha in refs.items():
            if not name.startswith("refs/tags/"):
                continue
            tag = name[len("refs/tags/"):]
            if tag_prefix:
                if not tag.startswith(tag_prefix):
                    continue
                tag = tag[len(tag_prefix):]
            v = parse_version(tag)
            if v is not None:
                versions[v] = sha
        best = constraint.best(versions)
        if best is not None:
            return versions[best], f"refs/tags/{tag_prefix}{best.original}"
        if not _HEX.match(rev):
            raise RevisionNotFound(f"repo {safe(url)}: no tag matches version constraint {rev!r}")
    if _HEX.match(rev):
        return None, "short"
    raise RevisionNotFound(f"repo {safe(url)}: revision {rev!r} not found (no such branch, tag or commit)")


def age(ts: float) -> str:
    seconds = int(time.time() - ts)
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


__all__ = ["Mirror", "STATS", "RECENT_ARGV", "parse_ls_remote", "resolve_in_refs"]
