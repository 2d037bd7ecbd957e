"""gym's "unmaintained" notice: shown by the process that starts a run, not by its env workers or other ranks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from helpers import GYM_NOTICE, REPO
from habitat_llm4teach import gym_notice

TESTS = REPO / "tests"


def _python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (the package is imported at start by its .pth, as in a real run)."""
    environ = {k: v for k, v in os.environ.items() if k not in (gym_notice.SHOWN_ENV, "RANK", "SLURM_PROCID")}
    environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), environ.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env={**environ, **env},
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def shown_once():
    """How many times a fresh `import gym` prints the notice here: 1 with gym_notices' table for this gym, else 0."""
    count = _python("import habitat_llm4teach, gym").count(GYM_NOTICE)
    assert count <= 1
    return count


def test_the_rule():
    assert gym_notice.should_show({})
    assert gym_notice.should_show({"RANK": "0"})
    assert not gym_notice.should_show({"RANK": "1"})
    assert not gym_notice.should_show({"SLURM_PROCID": "3"})
    assert not gym_notice.should_show({gym_notice.SHOWN_ENV: "1"})
    environ: dict[str, str] = {}
    gym_notice.mark_shown(environ)
    assert not gym_notice.should_show(environ)


def test_a_process_started_after_the_notice_or_as_another_rank_is_silent(shown_once):
    assert _python("import gym", **{gym_notice.SHOWN_ENV: "1"}).count(GYM_NOTICE) == 0
    assert _python("import gym", RANK="1").count(GYM_NOTICE) == 0
    assert _python("import gym", RANK="0").count(GYM_NOTICE) == shown_once


def test_habitat_vector_env_workers_do_not_repeat_it(shown_once):
    """The entry point's order: habitat (and gym) imported, mark_shown, then habitat's VectorEnv starts workers."""
    out = _python(
        """
        from habitat import VectorEnv
        from habitat_llm4teach import gym_notice
        import worker_probe

        gym_notice.mark_shown()
        envs = VectorEnv(make_env_fn=worker_probe.make_probe_env, env_fn_args=((), (), ()))
        print("workers", len({envs.call_at(i, "probe")[0] for i in range(3)}), flush=True)
        envs.close()
        """
    )
    assert "workers 3" in out
    assert out.count(GYM_NOTICE) == shown_once  # the main process's, none from the 3 workers
