"""Yokan (key-value store) bindings over libmochi's ``yk_*`` functions:
:mod:`mochi.yokan.client` (``Client``, ``Database``, ``Collection``),
:mod:`mochi.yokan.collection` (``Collection``: a database's document
collections), :mod:`mochi.yokan.server` (``Provider``),
:mod:`mochi.yokan.exception` (``Exception`` and the return codes) and
:mod:`mochi.yokan.mode` (the ``YOKAN_MODE_*`` flags).

Providers can also be started by Bedrock (a provider of type ``"yokan"`` in
a :class:`mochi.bedrock.server.Server` config, or the ``bedrock`` daemon).
"""
