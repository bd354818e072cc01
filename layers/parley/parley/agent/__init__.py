"""The answering package: the typed catalog, the tools over it, and the engines that answer with them.

Imported only by the worker (API handlers never load it). `contracts` holds the types every engine and tool
shares; the offline planner and the language-model loop both produce an `Answer` with its `steps`."""
