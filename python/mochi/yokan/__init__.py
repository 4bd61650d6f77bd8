"""Yokan (key-value store) bindings over libmochi's ``yk_*`` client functions:
:mod:`mochi.yokan.client` (``Client``, ``Database``),
:mod:`mochi.yokan.exception` (``Exception`` and the return codes) and
:mod:`mochi.yokan.mode` (the ``YOKAN_MODE_*`` flags).

Providers are started by Bedrock (a provider of type ``"yokan"`` in a
:class:`mochi.bedrock.server.Server` config, or the ``bedrock`` daemon);
libmochi exports no ``yk_provider_register``, so there is no
``mochi.yokan.server``.
"""
