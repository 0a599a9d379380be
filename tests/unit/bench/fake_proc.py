"""A /proc of made-up processes in a folder, for bench.proccpu and what reads CPU with it."""

from __future__ import annotations

from pathlib import Path


def stat_line(pid: int, comm: str, utime: int, stime: int, start: int) -> str:
    """/proc/PID/stat's text of a process with those times (clock ticks)."""
    # Fields 3..22 after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime, then more.
    fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(utime), str(stime), "7", "7", "20", "0", "4",
              "0", str(start), "1000", "200"]
    return f"{pid} ({comm}) " + " ".join(fields) + "\n"


def fake_proc(root: Path, procs: dict[int, tuple[int, int, int, list[int]]], titles: dict[int, str] | None = None) -> Path:
    """``root`` made a /proc of ``procs`` (pid -> (utime, stime, start, children)); ``titles``: pid ->
    command line (its words; PostgreSQL's backends set theirs to one string)."""
    for pid, (utime, stime, start, children) in procs.items():
        task = root / str(pid) / "task" / str(pid)
        task.mkdir(parents=True, exist_ok=True)
        (root / str(pid) / "stat").write_text(stat_line(pid, "python -m web", utime, stime, start))
        (task / "children").write_text(" ".join(map(str, children)))
        (root / str(pid) / "cmdline").write_bytes(((titles or {}).get(pid, "python -m web")).encode() + b"\0")
    return root
