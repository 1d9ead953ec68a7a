"""How the official apache/kafka image names broker settings in its environment.

Its entrypoint writes ``server.properties`` from every ``KAFKA_*`` variable but its JVM and
log4j ones: ``KAFKA_`` dropped, ``_`` -> ``.``, ``__`` -> ``_``, ``___`` -> ``-``, lower case.
The deployment files' test reads their settings with ``properties_of``; the containers the
suite can run on Docker are given the Maven broker's settings with ``environment_of``.
"""

from __future__ import annotations

import re

__all__ = ["environment_of", "properties_of"]

# What the image's properties spec keeps out of server.properties.
_NOT_PROPERTIES = {
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPT",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
}


def properties_of(env: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in env.items():
        if name.startswith("KAFKA_") and name not in _NOT_PROPERTIES:
            key = re.sub(r"(?<!_)_(?!_)", ".", name.removeprefix("KAFKA_"))
            out[key.replace("___", "-").replace("__", "_").lower()] = value
    return out


def environment_of(properties: dict[str, str]) -> dict[str, str]:
    def name(key: str) -> str:
        return "KAFKA_" + key.replace("_", "__").replace("-", "___").replace(".", "_").upper()

    return {name(key): value for key, value in properties.items()}
