"""The local stack: template.yaml's routes, functions, tables and queues on an embedded AWS emulation.

Nothing here ships to AWS; it lets `make dev` and the tests run the real handlers without Docker.
"""
