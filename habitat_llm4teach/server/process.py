"""The teacher server process a trainer rank owns: started in its own process group, restarted and stopped, never left behind.

A Ctrl-C meant for the trainer does not reach the server mid-save (own process group);
``stop`` sends SIGTERM (the server saves its cache) then SIGKILL; the server also
exits by itself when this process dies (``--parent-pid``).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
from typing import Optional


class ServerProcess:
    """The server process this rank owns: started, restarted and stopped here, never left behind."""

    def __init__(self, address: str, teacher_config: dict) -> None:
        self.address = address
        self.teacher_config = teacher_config
        self.process: Optional[subprocess.Popen] = None
        atexit.register(self.stop)

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "habitat_llm4teach.server", "--address", self.address,
            "--teacher-config", json.dumps(self.teacher_config), "--parent-pid", str(os.getpid()),
        ]
        # Own process group: a terminal's SIGINT reaches only the trainer, which then stops the server cleanly. Not
        # its own session: Linux's autogroup scheduler shares the CPU fairly between sessions whatever their nice
        # values, so a server in a session of its own would take a whole core from training despite server.cpu_nice.
        group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        self.process = subprocess.Popen(cmd, **group)

    @property
    def started(self) -> bool:
        return self.process is not None

    @property
    def exit_code(self) -> Optional[int]:
        return None if self.process is None else self.process.poll()

    @property
    def pid(self) -> Optional[int]:
        return None if self.process is None else self.process.pid

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (the server saves its cache), then SIGKILL after ``timeout_s``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
