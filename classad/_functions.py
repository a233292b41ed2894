"""Every built-in function of the ClassAd language: importing this module registers them.

The functions are grouped by concern; each module registers its own with ``@function`` or
``@lazy_function`` (``_builtins``) when imported.
"""

from . import _fn_core, _fn_htcondor, _fn_meta, _fn_strings, _fn_time  # noqa: F401
