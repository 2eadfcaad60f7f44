"""A crew whose agent is a scripted fake LLM (no network) calling one tool; used in-process
by ``test_crewai_tools.py`` and as a child process (``python tool_crew.py ROOT SCRIPT``)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List

os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

from crewai import Agent, Crew, Task  # noqa: E402
from crewai.llms.base_llm import BaseLLM  # noqa: E402
from crewai.tools import BaseTool  # noqa: E402

REFUSED_MARK = "was not called"


def _text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    return "\n".join(str(m.get("content", "")) for m in messages)


class ScriptedLLM(BaseLLM):
    """Answers in crewai's ReAct text format. ``script`` ``"loop"``: calls ``lookup`` for
    Paris, London, Paris, ... until an observation in the conversation says a call was refused, then answers;
    ``"once"``: one call for Paris, then answers."""

    script: str = "loop"
    calls: int = 0

    def call(self, messages: Any, tools: Any = None, callbacks: Any = None, available_functions: Any = None,
             from_task: Any = None, from_agent: Any = None, response_model: Any = None) -> str:
        self.calls += 1
        seen = _text(messages)
        if REFUSED_MARK in seen or (self.script == "once" and self.calls > 1):
            return "Thought: I now know the final answer\nFinal Answer: done"
        city = "Paris" if self.calls % 2 == 1 else "London"
        return f'Thought: I should look it up\nAction: lookup\nAction Input: {{"city": "{city}"}}'


class Lookup(BaseTool):
    name: str = "lookup"
    description: str = "Looks up the weather of a city."
    ran: List[str] = []

    def _run(self, city: str) -> str:
        self.ran.append(city)
        return f"sunny in {city}"


def crew_for(llm: ScriptedLLM, tool: BaseTool, cache: bool = True) -> Crew:
    agent = Agent(role="forecaster", goal="know the weather", backstory="a bot", llm=llm, tools=[tool],
                  max_iter=12, verbose=False)
    task = Task(description="What is the weather in Paris?", expected_output="a sentence", agent=agent)
    return Crew(agents=[agent], tasks=[task], cache=cache, verbose=False)


def main(root: str, script: str) -> Dict[str, Any]:
    from mnemodb.integrations.crewai import install, uninstall

    install(root)
    try:
        tool = Lookup()
        crew = crew_for(ScriptedLLM(model="fake", script=script), tool)
        out = crew.kickoff()
        return {"ran": tool.ran, "output": str(out.raw), "handler": type(crew._cache_handler).__name__}
    finally:
        uninstall()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
