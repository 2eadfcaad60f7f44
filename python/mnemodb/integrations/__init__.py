"""Integrations of mnemodb with other frameworks, each importing its framework lazily.

- :mod:`mnemodb.integrations.crewai`: mnemodb as CrewAI's memory, knowledge and RAG store.
- :mod:`mnemodb.integrations.langgraph`: LangGraph's checkpointer and long-term store.

mnemodb itself never requires any of these frameworks.
"""
