"""Running as a Snakemake script: the config's plugins imported, output to the job's log, user errors as one line.

Kept free of torch so that table and figure jobs start fast.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator, TextIO

from ..errors import CvgrError
from ..plugins import load_plugins


class _Tee:
    """A text stream writing to several streams."""

    def __init__(self, *streams: TextIO):
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
            st.flush()
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def snakemake_script(smk: Any) -> Iterator[Any]:
    """Run a Snakemake script's body (``with snakemake_script(snakemake) as smk:``).

    The config's ``plugins`` (rules/common.smk puts the study's in ``smk.config``) are imported
    first, so the job sees their registrations. Output is teed to ``smk.log[0]``; a CvgrError
    becomes one line and exit 1.
    """
    log_path = smk.log[0] if len(smk.log) else None
    log = open(log_path, "a") if log_path else None
    old = sys.stdout, sys.stderr
    if log:
        sys.stdout, sys.stderr = _Tee(old[0], log), _Tee(old[1], log)
    try:
        load_plugins(getattr(smk, "config", {}).get("plugins") or ())
        yield smk
    except CvgrError as err:
        print(f"cvgr error: {err}", file=sys.stderr)
        sys.stdout, sys.stderr = old
        if log:
            log.close()
        raise SystemExit(1) from None
    finally:
        sys.stdout, sys.stderr = old
        if log and not log.closed:
            log.close()
