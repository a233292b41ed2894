"""Run by the interpreter of the oracle's own venv (see ``oracle.py``), never by the
test suite's: HTCondor 23's ``htcondor.Submit`` turns submit descriptions into job ads.

Reads a JSON list of cases from standard input, each ``{"dir": ..., "text": ...}``, and
prints one JSON object: ``{"environ": {...}, "results": [...]}``, where each result is
``{"ads": [ad text, ...]}`` or ``{"error": message}``.  Each case is translated with the
case's directory as the working directory, as condor_submit would be run in it; the
environment is the one ``getenv`` copies from.  Each case runs in a forked child: the
library ends the process (``EXCEPT``, or a crash) on some bad macro function calls, and a
case that does so gives ``{"error": "crashed: ..."}``.
"""

import json
import os
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "using a null condor_config": meant, no pool here
    import htcondor


def translate(case):
    os.chdir(case["dir"])
    try:
        submit = htcondor.Submit(case["text"])
        ads = submit.jobs(clusterid=1, qdate=1000, owner="alice")
        return {"ads": [str(ad) for ad in ads]}
    except Exception as error:  # HTCondorInternalError, RuntimeError, ValueError alike
        return {"error": f"{type(error).__name__}: {error}"}


def isolated(case):
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        with os.fdopen(write, "w") as out:
            json.dump(translate(case), out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(child, 0)
    if status or not text:
        return {"error": f"crashed: wait status {status}"}
    return json.loads(text)


def main():
    cases = json.load(sys.stdin)
    results = [isolated(case) for case in cases]
    json.dump({"environ": dict(os.environ), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
