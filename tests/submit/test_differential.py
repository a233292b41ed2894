"""roost's submit reader against HTCondor 23.10's own translator (``oracle.py``), case by
case, compared by meaning (``meaning.facets``); the deliberate differences are in
``known_differences.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.submit_description import SubmitError, parse_submit

from . import oracle as condor23
from .cases import EMPTY, HAND, REFUSED, Case, generated
from .known_differences import KNOWN_DIFFERENCES
from .meaning import facets

CASES = HAND + generated()
FACETS_OF = {"config-request-memory": "RequestMemory", "config-request-disk": "RequestDisk"}


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """HTCondor's result for every case, from one run of the oracle: name → (directory,
    ads or error text); and the environment it ran in."""
    every = [(case.name, case.text, case.files) for case in CASES]
    every += [(name, text, {}) for name, text, _ in REFUSED]
    every += [(name, text, {}) for name, text in EMPTY]
    dirs = {}
    for name, _, files in every:
        directory = dirs[name] = tmp_path_factory.mktemp(name)
        for relative, content in files.items():
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            (directory / relative).write_text(content)
    environ, results = condor23.translate([(dirs[name], text) for name, text, _ in every])
    return {name: (dirs[name], result) for (name, _, _), result in zip(every, results,
                                                                        strict=True)}, environ


def roost_jobs(text: str, directory: Path, environ: dict[str, str]):
    plan = parse_submit(text, filename="job.sub", cwd=directory, owner="alice", now=1000,
                        environ=environ)
    ads = [plan.job(index) for index in range(len(plan))]
    for ad in ads:
        ad["ClusterId"] = 1  # the schedd's, when it queues the cluster
    return ads


def test_every_difference_is_used():
    used = {d for case in CASES for d in case.full_differences()}
    used |= {"refused", "oracle-empty-items"}
    assert used == set(KNOWN_DIFFERENCES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_same_jobs(case: Case, oracle):
    results, environ = oracle
    directory, expected = results[case.name]
    if isinstance(expected, str):  # HTCondor refuses the file: so must roost
        with pytest.raises(SubmitError, match=r"^job\.sub:\d+:\d+: "):
            roost_jobs(case.text, directory, environ)
        return
    if "refused" in case.differences:  # roost cannot honour it: HTCondor makes jobs
        assert expected
        with pytest.raises(SubmitError, match=r"^job\.sub:\d+:\d+: .*not supported by roost"):
            roost_jobs(case.text, directory, environ)
        return
    got = roost_jobs(case.text, directory, environ)
    assert len(got) == len(expected)
    skipped = {FACETS_OF[d] for d in case.full_differences() if d in FACETS_OF}
    for proc, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        mine_facets = facets(mine, case.attributes)
        their_facets = facets(theirs, case.attributes)
        for name in skipped:
            del mine_facets[name], their_facets[name]
        differing = {name: (mine_facets[name], their_facets[name]) for name in their_facets
                     if mine_facets[name] != their_facets[name]}
        assert differing == {}, f"proc {proc}: roost vs HTCondor"


@pytest.mark.parametrize(("name", "text", "line"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(name, text, line, oracle):
    results, environ = oracle
    directory, expected = results[name]
    # HTCondor makes a job of it (java: refuses it too, for want of a class name or file).
    assert isinstance(expected, list) or "java" in name
    with pytest.raises(SubmitError, match=rf"^job\.sub:{line}:\d+: ") as error:
        roost_jobs(text, directory, environ)
    assert "\n" not in str(error.value)
    assert "not supported" in str(error.value)


@pytest.mark.parametrize(("name", "text"), EMPTY, ids=[e[0] for e in EMPTY])
def test_no_items_no_jobs(name, text, oracle):
    results, environ = oracle
    directory, expected = results[name]
    assert len(expected) == 1  # KNOWN_DIFFERENCES["oracle-empty-items"]
    with pytest.raises(SubmitError, match=r"^job\.sub:\d+:\d+: .*no job") as error:
        roost_jobs(text, directory, environ)
    assert "\n" not in str(error.value)
