"""Python bindings of libmochi (the Rust Mochi Flock/Bedrock replacement).

Everything here is written with :mod:`ctypes` over the C functions that
libmochi exports (``include/margo.h``, ``include/flock/*.h``,
``include/bedrock/*.h``, ``include/yokan/*.h``); there is no compiled
extension to build.

Sub-packages: :mod:`mochi.margo`, :mod:`mochi.flock`, :mod:`mochi.bedrock`,
:mod:`mochi.yokan` (and, beside this package, :mod:`pymargo`: the
py-mochi-margo names of :mod:`mochi.margo`).
The shared library is located as described in :mod:`mochi._lib`.
"""
