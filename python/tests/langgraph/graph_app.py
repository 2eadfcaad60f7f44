"""A small LangGraph application on MnemoSaver and MnemoStore, and the child process of
test_graph.py: ``python graph_app.py DIR start|resume ANSWER`` runs the graph with the
network blocked and prints the outcome as JSON.

The graph: ``draft`` writes a draft and remembers it in the store, ``ask`` interrupts for a
human's answer, ``finish`` records the answer and the store's count of drafts."""

from __future__ import annotations

import importlib.util
import json
import operator
import os
import sys
from typing import Annotated, Any, List, TypedDict

HERE = os.path.dirname(os.path.abspath(__file__))

THREAD = {"configurable": {"thread_id": "review-1"}}


class State(TypedDict, total=False):
    topic: str
    draft: str
    answer: str
    log: Annotated[List[str], operator.add]
    remembered: int


def build(path: str) -> Any:
    from langgraph.graph import END, START, StateGraph
    from langgraph.store.base import BaseStore
    from langgraph.types import interrupt

    from mnemodb.integrations.langgraph import MnemoSaver, MnemoStore

    def draft(state: State, *, store: BaseStore) -> State:
        text = f"a note about {state['topic']}"
        store.put(("drafts",), state["topic"], {"text": text})
        return {"draft": text, "log": ["draft"]}

    def ask(state: State) -> State:
        answer = interrupt({"question": f"publish {state['draft']!r}?"})
        return {"answer": answer, "log": [f"ask:{answer}"]}

    def finish(state: State, *, store: BaseStore) -> State:
        return {"remembered": len(store.search(("drafts",))), "log": ["finish"]}

    graph = StateGraph(State)
    graph.add_node("draft", draft)
    graph.add_node("ask", ask)
    graph.add_node("finish", finish)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "ask")
    graph.add_edge("ask", "finish")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=MnemoSaver(path), store=MnemoStore(path))


def _block_network() -> Any:
    import pytest

    spec = importlib.util.spec_from_file_location("tests_conftest", os.path.join(os.path.dirname(HERE), "conftest.py"))
    assert spec is not None and spec.loader is not None
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    conftest.block_and_record(pytest.MonkeyPatch())
    return conftest.ATTEMPTS


def main(path: str, step: str, answer: str) -> None:
    attempts = _block_network()
    from langgraph.types import Command

    app = build(path)
    if step == "start":
        out = app.invoke({"topic": "otters", "log": []}, THREAD)
        interrupts = [i.value for i in out.get("__interrupt__", [])]
        print(json.dumps({"interrupts": interrupts, "next": list(app.get_state(THREAD).next), "attempts": attempts}))
    else:
        out = app.invoke(Command(resume=answer), THREAD)
        print(json.dumps({"state": {k: v for k, v in out.items() if k != "__interrupt__"}, "attempts": attempts}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
