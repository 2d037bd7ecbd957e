"""Query the teacher from the command line.

    python -m habitat_llm4teach.teacher.minigrid query --env minigrid --text "<description>" \\
        [--mode score|sample] [--model PATH_OR_ID] [--cache plans.json]

Prints one JSON object: {"plans": [{"plan", "skills", "prob"}, ...] (most probable first),
"source": "llm" | "cache", "invalid": k}.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from habitat_llm4teach.config.structured import TeacherConfig
from habitat_llm4teach.teacher.cache import PlanCacheError
from habitat_llm4teach.teacher.llm import ModelLoadError, PromptTemplateError
from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_FACTS_PROMPTS, MINIGRID_PROMPTS, query_from_description
from habitat_llm4teach.teacher.minigrid.scene import DescriptionError
from habitat_llm4teach.teacher.planner import build_planner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m habitat_llm4teach.teacher.minigrid", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("query", help="plan distribution for one description")
    query.add_argument("--env", choices=["minigrid", "minigrid_facts"], default=TeacherConfig.env, help="prompt set (teacher kind)")
    query.add_argument("--text", required=True, help='e.g. "Agent sees <yellow key>, holds <nothing>. Goal: open the door."')
    query.add_argument("--mode", choices=["score", "sample"], default=TeacherConfig.mode)
    query.add_argument("--model", default=TeacherConfig.model)
    query.add_argument("--cache", default=None, help="JSON plan cache to read and update")
    query.add_argument("-v", "--verbose", action="store_true", help="log rejected LLM outputs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        prompts = MINIGRID_FACTS_PROMPTS if args.env == "minigrid_facts" else MINIGRID_PROMPTS
        query = query_from_description(args.text, prompts)
        planner = build_planner(TeacherConfig(model=args.model, mode=args.mode, cache_path=args.cache), prompts)
        answer = planner.plan(query)
    except (DescriptionError, ModelLoadError, PlanCacheError, PromptTemplateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    planner.cache.save()
    print(json.dumps({
        "plans": [{"plan": p.text, "skills": [str(s) for s in p.steps], "prob": round(p.prob, 4)} for p in answer.plans],
        "source": answer.source,
        "invalid": answer.invalid,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
