"""The machine owner's policy: when the slot takes jobs, suspends, continues, evicts them.

A ``Policy`` holds HTCondor's policy expressions as ClassAd expression texts, under the
names of HTCondor's configuration (START, RANK, SUSPEND, CONTINUE, PREEMPT, KILL,
WANT_SUSPEND, WANT_VACATE, IS_OWNER, MaxJobRetirementTime, MachineMaxVacateTime), with
HTCondor's shipped defaults.  ``install`` writes them into the slot ad, where the slot's
state machine (``startd.states``) evaluates them with MY = the slot ad and TARGET = the
job ad (``evaluate``), or *locally*, against the slot ad alone, where every reference to
the job is UNDEFINED (``evaluate(ad, name)`` with no job: IS_OWNER, START without a job).

Decisions:

- **Helper macros are expanded**, as HTCondor's configuration does: an expression may
  say ``$(StartIdleTime)``, and ``expressions()`` substitutes the macro's text (textually,
  without added parentheses, exactly as HTCondor does, so that the trees are HTCondor's
  own).  The slot ad then carries self-contained expressions and only attribute names
  HTCondor's slot ads carry; ``condor_status -l``-style output shows what HTCondor's
  would.  The policy expressions themselves are macros too (``$(SUSPEND)``), and they are
  also attributes of the ad, since HTCondor's desktop PREEMPT refers to the attributes
  ``SUSPEND`` and ``WANT_SUSPEND``.
- **No clock.**  HTCondor's texts say ``time()``; here they say ``CurrentTime``, which
  the ClassAd language resolves to the current time when the ad has no attribute of that
  name (so the negotiator, evaluating an advertised ad, gets the clock), while the slot's
  core puts ``CurrentTime = now`` into the ad for its own evaluations.
- **Latches** (HTCondor's ``STARTD_LATCH_EXPRS``): for each latched macro the slot ad
  gets ``<Name>Value`` (its value; a boolean as 0 or 1) and ``<Name>Time`` (when that
  value last changed), kept by the state machine on every Tick.  The desktop policy
  latches ``CpuBusy`` for its ``CpuBusyTimer``.

Ready-made policies (``policy_by_name``): ``always`` (HTCondor's defaults: run whenever
free), ``desktop`` (HTCondor's UWCS desktop policy, the text HTCondor 25 ships in
``param_info.in``'s ``POLICY.UWCS_DESKTOP``), and ``glidein`` (a pilot inside a batch
allocation: only jobs whose ``MaxRuntime`` fits in the remaining ``TimeToLive``, and no
new jobs once less than ``RetireMargin`` is left, as glideinWMS pilots do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache

from classad import ClassAd, ClassAdSyntaxError, ExprTree, Value

__all__ = [
    "CONTINUE", "IS_OWNER", "KILL", "MACHINE_MAX_VACATE_TIME", "MAX_JOB_RETIREMENT_TIME",
    "POLICIES", "PREEMPT", "RANK", "REQUIREMENTS", "SLOT_REQUIREMENTS", "START", "SUSPEND",
    "WANT_SUSPEND",
    "WANT_VACATE", "WITHIN_RESOURCE_LIMITS", "Policy", "always", "desktop", "evaluate",
    "expand", "glidein", "is_true", "number", "policy_by_name",
]

# The slot-ad attributes the policy writes, spelled as HTCondor's ads and configuration
# spell them (attribute names are case-insensitive in the language).
START = "Start"
RANK = "Rank"
SUSPEND = "SUSPEND"
CONTINUE = "CONTINUE"
PREEMPT = "PREEMPT"
KILL = "KILL"
WANT_SUSPEND = "WANT_SUSPEND"
WANT_VACATE = "WANT_VACATE"
IS_OWNER = "IS_OWNER"
MAX_JOB_RETIREMENT_TIME = "MaxJobRetirementTime"
MACHINE_MAX_VACATE_TIME = "MachineMaxVacateTime"
REQUIREMENTS = "Requirements"
WITHIN_RESOURCE_LIMITS = "WithinResourceLimits"  # defined by the slot's resources
# The slot's advertised Requirements, for every kind of slot as in HTCondor's startd
# (Reqexp.cpp publish_requirements): START, and that the job fits the slot.
SLOT_REQUIREMENTS = f"START && {WITHIN_RESOURCE_LIMITS}"

# Policy field -> (attribute in the slot ad, its name as a configuration macro).
_EXPRESSIONS: dict[str, tuple[str, str]] = {
    "start": (START, "START"),
    "rank": (RANK, "RANK"),
    "suspend": (SUSPEND, "SUSPEND"),
    "continue_": (CONTINUE, "CONTINUE"),
    "preempt": (PREEMPT, "PREEMPT"),
    "kill": (KILL, "KILL"),
    "want_suspend": (WANT_SUSPEND, "WANT_SUSPEND"),
    "want_vacate": (WANT_VACATE, "WANT_VACATE"),
    "is_owner": (IS_OWNER, "IS_OWNER"),
    "max_job_retirement_time": (MAX_JOB_RETIREMENT_TIME, "MaxJobRetirementTime"),
    "machine_max_vacate_time": (MACHINE_MAX_VACATE_TIME, "MachineMaxVacateTime"),
}

_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")
_MAX_EXPANSIONS = 1000  # a guard against runaway expansion


@dataclass(frozen=True, slots=True)
class Policy:
    """A slot's policy expressions (ClassAd texts that may use ``$(Macro)``), with
    HTCondor's shipped defaults; ``macros`` are the helper macros, ``latches`` the macros
    latched into ``<Name>Value``/``<Name>Time``, and ``attributes`` further slot-ad
    attributes the policy relies on (expression texts, expanded like the rest)."""

    start: str = "true"
    rank: str = "0"
    suspend: str = "false"
    continue_: str = "true"
    preempt: str = "false"
    kill: str = "false"
    want_suspend: str = "false"
    want_vacate: str = "true"
    is_owner: str = "(START =?= False)"
    max_job_retirement_time: str = "0"
    machine_max_vacate_time: str = "600"  # HTCondor: 10 * 60
    macros: Mapping[str, str] = field(default_factory=dict)
    latches: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    name: str = "custom"
    _expanded: dict[str, str] = field(init=False, repr=False, compare=False)
    _extra: dict[str, str] = field(init=False, repr=False, compare=False)
    _latched: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = _macro_table(self)
        expanded = {attr: expand(getattr(self, name), table)
                    for name, (attr, _macro) in _EXPRESSIONS.items()}
        extra = {attr: expand(text, table) for attr, text in self.attributes.items()}
        latched = {}
        for name in self.latches:
            if name.lower() not in table:
                raise ValueError(f"policy {self.name}: latch {name} is not a macro")
            latched[name] = expand(f"$({name})", table)
        for attr, text in {**expanded, **extra, **latched}.items():
            try:
                ExprTree(text)
            except ClassAdSyntaxError as exc:
                raise ValueError(f"policy {self.name}: {attr} = {text}: {exc}") from None
        object.__setattr__(self, "_expanded", expanded)
        object.__setattr__(self, "_extra", extra)
        object.__setattr__(self, "_latched", latched)

    def expressions(self) -> dict[str, str]:
        """The policy expressions: slot-ad attribute -> expression text, macros expanded."""
        return dict(self._expanded)

    def slot_attributes(self) -> dict[str, str]:
        """The further slot-ad attributes the policy relies on, macros expanded (measured
        values of the same names, handed to the slot, replace them)."""
        return dict(self._extra)

    def latch_expressions(self) -> dict[str, str]:
        """Latched macro name -> its expanded expression text."""
        return dict(self._latched)

    def install(self, ad: ClassAd) -> None:
        """Write the policy's expressions and the slot's ``Requirements`` into ``ad``."""
        for attr, text in {**self._extra, **self._expanded}.items():
            ad[attr] = ExprTree(text)
        ad[REQUIREMENTS] = ExprTree(SLOT_REQUIREMENTS)

    def attribute_names(self) -> frozenset[str]:
        """The policy expressions' attributes and Requirements, in lower case (not
        ``slot_attributes``, which measured values may replace)."""
        return frozenset(attr.lower() for attr, _macro in (*_EXPRESSIONS.values(),
                                                            (REQUIREMENTS, "")))


def _macro_table(policy: Policy) -> dict[str, str]:
    """One namespace, as HTCondor's configuration: the helper macros and the policy
    expressions under their configuration names (case-insensitive)."""
    table = {name.lower(): text for name, text in policy.macros.items()}
    for name, (_attr, macro) in _EXPRESSIONS.items():
        table[macro.lower()] = getattr(policy, name)
    return table


def expand(text: str, macros: Mapping[str, str]) -> str:
    """``text`` with every ``$(Name)`` replaced by the text of macro ``Name`` (names are
    case-insensitive; ``macros`` keys in lower case), recursively; ValueError for an
    unknown macro or one that refers to itself."""

    def substitute(text: str, active: tuple[str, ...]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1).lower()
            if name in active:
                chain = " -> ".join((*active, name))
                raise ValueError(f"macro refers to itself: {chain}")
            if name not in macros:
                raise ValueError(f"undefined macro $({match.group(1)}) in {text!r}")
            return substitute(macros[name], (*active, name))

        if len(active) > _MAX_EXPANSIONS:
            raise ValueError("macros nest too deeply")
        return _MACRO.sub(one, text)

    return substitute(text, ())


# -- evaluation ---------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _reference(name: str) -> ExprTree:
    return ExprTree(name)


def evaluate(ad: ClassAd, name: str, job: ClassAd | None = None):
    """The value of the slot ad's attribute ``name`` with MY = ``ad`` and TARGET = ``job``;
    with no job it is evaluated locally (every reference to the job is UNDEFINED).  Plain
    Python values, ``Value.Undefined`` or ``Value.Error``."""
    return _reference(name).eval(my=ad, target=job)


def is_true(value) -> bool:
    """Whether a policy value counts as TRUE (HTCondor's EvalBool: a boolean, or a
    non-zero number); UNDEFINED, ERROR and strings do not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return False


def number(value, default: float = 0) -> float:
    """A policy value as a number of seconds (``default`` when it is not a number)."""
    if isinstance(value, bool) or value is Value.Undefined or value is Value.Error:
        return default
    return value if isinstance(value, int | float) else default


# -- ready-made policies ------------------------------------------------------------------

# HTCondor's policy helper macros (param_info.in, POLICY_EXPR_FRAGMENTS and UWCS_DESKTOP;
# ep-policy-configuration.rst "Default Policy"), time() written as CurrentTime.
_DESKTOP_MACROS = {
    "MINUTE": "60",
    "HOUR": "(60 * $(MINUTE))",
    "StateTimer": "(CurrentTime - EnteredCurrentState)",
    "ActivityTimer": "(CurrentTime - EnteredCurrentActivity)",
    "ActivationTimer": "ifThenElse(JobStart =!= UNDEFINED, (CurrentTime - JobStart), 0)",
    "NonCondorLoadAvg": "(LoadAvg - CondorLoadAvg)",
    "BackgroundLoad": "0.3",
    "HighLoad": "0.5",
    "StartIdleTime": "15 * $(MINUTE)",
    "ContinueIdleTime": "5 * $(MINUTE)",
    "MaxSuspendTime": "10 * $(MINUTE)",
    "MaxVacateTime": "10 * $(MINUTE)",
    "KeyboardBusy": "(KeyboardIdle < $(MINUTE))",
    "ConsoleBusy": "(ConsoleIdle  < $(MINUTE))",
    "KeyboardNotBusy": "($(KeyboardBusy) == False)",
    "CPUIdle": "($(NonCondorLoadAvg) <= $(BackgroundLoad))",
    "CPUBusy": "($(NonCondorLoadAvg) >= $(HighLoad))",
    "CpuBusy": "($(NonCondorLoadAvg) >= $(HighLoad))",
    # the CpuBusy latch gives CpuBusyValue (0 or 1) and CpuBusyTime (when it changed)
    "CpuBusyTimer": "IfThenElse(CpuBusyValue is 1, CurrentTime - CpuBusyTime, 0)",
    "SmallJob": "(TARGET.ImageSize <  (15 * 1024))",
    "IsVanilla": "(TARGET.JobUniverse == 5)",
}


def always() -> Policy:
    """HTCondor's shipped defaults: start any job whenever the slot is free, never
    suspend or preempt for the owner."""
    return Policy(name="always")


def desktop() -> Policy:
    """HTCondor's UWCS desktop policy: run jobs only when the keyboard has been idle 15
    minutes and the owner's load is low; suspend when the owner comes back (or the CPU is
    busy for 2 minutes), continue when they have been away 5 minutes, and evict a job
    suspended longer than 10 minutes."""
    return Policy(
        name="desktop",
        macros=_DESKTOP_MACROS,
        latches=("CpuBusy",),
        start='( (KeyboardIdle > $(StartIdleTime)) && ( $(CPUIdle) || '
              '(State != "Unclaimed" && State != "Owner")) )',
        suspend="( $(KeyboardBusy) || ( ($(CpuBusyTimer) > 2 * $(MINUTE)) "
                "&& $(ActivationTimer) > 90 ) )",
        continue_="( $(CPUIdle) && ($(ActivityTimer) > 10) "
                  "&& (KeyboardIdle > $(ContinueIdleTime)) )",
        preempt='( ((Activity == "Suspended") && ($(ActivityTimer) > $(MaxSuspendTime))) '
                "|| (SUSPEND && (WANT_SUSPEND == False)) )",
        want_suspend="( $(SmallJob) || $(KeyboardNotBusy) || $(IsVanilla) ) && ( $(SUSPEND) )",
        want_vacate="( $(ActivationTimer) > 10 * $(MINUTE) || $(IsVanilla) )",
        kill="false",
        max_job_retirement_time="0",
        machine_max_vacate_time="$(MaxVacateTime)",
    )


def glidein() -> Policy:
    """A pilot in a batch allocation (glideinWMS): the slot ad carries ``GLIDEIN_ToDie``
    (the absolute end of the allocation, less the shutdown grace) and hence
    ``TimeToLive`` (``GLIDEIN_ToDie - CurrentTime``, unless the shell measures it); START
    takes only jobs whose ``MaxRuntime`` fits in it (any job when MaxRuntime is undefined)
    and none once ``RetireMargin`` or less is left, or past ``GLIDEIN_ToRetire`` when the
    ad has it (the slot then goes to Owner, as retiring glideins do).  A lifetime that is
    not known (undefined) does not limit.  No suspension; a vacating job is killed after
    5 minutes (glideinWMS's KILL)."""
    return Policy(
        name="glidein",
        macros={"MINUTE": "60", "RetireMargin": "10 * $(MINUTE)"},
        attributes={"TimeToLive": "(GLIDEIN_ToDie - CurrentTime)"},
        start="((GLIDEIN_ToRetire =?= UNDEFINED) || (CurrentTime < GLIDEIN_ToRetire)) && "
              "((TimeToLive =?= UNDEFINED) || ((TimeToLive > $(RetireMargin)) && "
              "(TARGET.MaxRuntime =?= UNDEFINED || TARGET.MaxRuntime <= TimeToLive)))",
        suspend="false",
        want_suspend="false",
        kill="(CurrentTime - EnteredCurrentActivity) > 5 * $(MINUTE)",
    )


POLICIES = {"always": always, "desktop": desktop, "glidein": glidein}

_FIELDS = frozenset(f.name for f in fields(Policy) if f.name in _EXPRESSIONS)


def policy_by_name(name: str, **overrides: str | int | float | bool) -> Policy:
    """The ready-made policy ``name``, with ``overrides``: a policy expression by its
    field name (``start="KeyboardIdle > 600"``, ``max_job_retirement_time=3600``) or one of
    the policy's helper macros by its name (``StartIdleTime=600``, ``RetireMargin=900``).
    ValueError for an unknown policy or an override that is neither."""
    factory = POLICIES.get(name.lower())
    if factory is None:
        known = ", ".join(sorted(POLICIES))
        raise ValueError(f"unknown startd policy {name!r} (known: {known})")
    policy = factory()
    if not overrides:
        return policy
    macros = dict(policy.macros)
    by_lower = {key.lower(): key for key in macros}
    changes: dict[str, object] = {}
    for key, value in overrides.items():
        text = _text(value)
        if key in _FIELDS:
            changes[key] = text
        elif key.lower() in by_lower:
            macros[by_lower[key.lower()]] = text
        else:
            allowed = ", ".join([*sorted(_FIELDS), *sorted(macros)])
            raise ValueError(f"policy {policy.name} has no expression or macro {key!r} "
                             f"(it has: {allowed})")
    return replace(policy, macros=macros, **changes)


def _text(value: str | int | float | bool) -> str:
    """An override as expression text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"an override is expression text or a number, not {type(value).__name__}")
