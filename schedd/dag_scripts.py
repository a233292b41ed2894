"""The shell that runs DAG nodes' PRE and POST scripts, on the submit side, as the DAG's
owner, with their output kept.

The queue says which scripts are due (``dag_store.scripts_due``: nodes in phase PRE or
POST); this runs each once, in the node's directory (its DIR), and records the exit in one
transaction (``DagQueue.script_ended``), which moves the node on.  A schedd that was killed
while a script ran runs it again when it starts (as DAGMan's recovery does), so a script
should be safe to run twice.  A script that exits with its DEFER status runs again after
the DEFER time instead of failing.

Whom a script runs as: a schedd running as root runs it as the DAG's owner (refusing an
owner with no account here, and never running another user's script as root); a schedd
that is not root (a personal pool) runs it as itself.  Its standard output and error go to
``<dag file>.<node>.<pre|post>.out`` beside the DAG file (appended, a header per run), or
to the file its SCRIPT DEBUG names.
"""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
import threading
import time
from pathlib import Path

from schedd.dag_node import POST, PRE, Script, script_argv

log = logging.getLogger("roost.schedd")

SCRIPT_FAILED_TO_START = 127  # the exit a shell gives a command it cannot run


class ScriptRunner:
    def __init__(self, dags) -> None:
        self.dags = dags  # a schedd.dag_queue.DagQueue
        self._lock = threading.Lock()
        self._running: set[tuple[int, str]] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedd:dag-scripts",
                                        daemon=True)
        self._thread.start()

    def changed(self, changes) -> None:
        """A queue listener: a script became due."""
        if any(change.kind in ("dag-pre", "dag-post") for change in changes):
            self._wake.set()

    def recover(self) -> None:
        """Run the scripts a killed schedd left due."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._start_due()
            except Exception:  # the queue is being closed, or its disk is full
                log.exception("cannot start the DAG scripts that are due")

    def _start_due(self) -> None:
        for node in self.dags.scripts_due():
            key = (node.cluster_id, node.phase)
            with self._lock:
                if key in self._running:
                    continue
                self._running.add(key)
            threading.Thread(target=self._one, args=(node, node.owner, node.dag_file),
                             name=f"dag-script-{node.cluster_id}", daemon=True).start()

    def _one(self, node, owner: str, dag_file: str) -> None:
        kind = node.phase
        try:
            script = Script.from_text(node.pre if kind == PRE else node.post)
            while True:
                code = run_script(script, node, owner, dag_file, kind)
                if script.defer_status is None or code != script.defer_status:
                    break
                if self._stop.wait(script.defer_time):
                    return  # the schedd stops: the next one runs it again
            self.dags.script_ended(node.cluster_id, kind, code)
        except Exception:
            # Left due, not run again at once: the next script that becomes due, or the
            # next start of the schedd, runs it again.
            log.exception("DAG node %s: its %s script could not be run", node.name, kind)
            with self._lock:
                self._running.discard((node.cluster_id, kind))
            return
        with self._lock:
            self._running.discard((node.cluster_id, kind))
        self._wake.set()  # the node may have another script due now (a retry's PRE)


def run_script(script: Script, node, owner: str, dag_file: str, kind: str) -> int:
    """Run a node's script once; its exit status (-N for a signal N, as DAGMan reads it;
    127 when it cannot be started)."""
    directory = Path(node.directory or Path(dag_file).parent)
    # $NODE is the manual's name now, $JOB its older one.
    macros = {"$NODE": node.name, "$JOB": node.name, "$DAGID": node.dag_id,
              "$RETRY": node.retries, "$MAX_RETRIES": node.max_retries,
              "$DAG_STATUS": 0, "$FAILED_COUNT": 0}
    if kind == POST:
        macros.update({"$RETURN": node.return_value if node.return_value is not None else 0,
                       "$PRE_SCRIPT_RETURN": node.pre_return
                       if node.pre_return is not None else -1,
                       "$JOBID": f"{node.cluster_id}.0", "$CLUSTERID": node.cluster_id})
    argv = script_argv(script, macros)
    executable = Path(argv[0])
    # Relative to the node's directory, as DAGMan runs it there; a bare name not found
    # there is looked up in PATH.
    if not executable.is_absolute() and ("/" in argv[0] or (directory / executable).exists()):
        argv[0] = str(directory / executable)
    output = _output_path(script, node, dag_file, kind, directory)
    account = _account(owner)
    with open(output, "ab") as out:
        header = (f"--- {kind.upper()} script of node {node.name} (try {node.retries}) at "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(argv)}\n")
        out.write(header.encode())
        out.flush()
        if isinstance(account, str):
            out.write(f"not run: {account}\n".encode())
            return SCRIPT_FAILED_TO_START
        if account is not None:
            os.chown(output, account.pw_uid, account.pw_gid)
        stdout = out if script.debug_type in ("", "STDOUT", "ALL") else subprocess.DEVNULL
        stderr = out if script.debug_type in ("", "STDERR", "ALL") else subprocess.DEVNULL
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                       "DAG_NODE_NAME": node.name, "DAGManJobId": str(node.dag_id)}
        if account is not None:
            environment.update(HOME=account.pw_dir, USER=account.pw_name,
                               LOGNAME=account.pw_name)
        user = {} if account is None else {
            "user": account.pw_uid, "group": account.pw_gid,
            "extra_groups": os.getgrouplist(account.pw_name, account.pw_gid)}
        try:
            done = subprocess.run(argv, cwd=directory, stdin=subprocess.DEVNULL,
                                  stdout=stdout, stderr=stderr, env=environment, check=False,
                                  **user)
        except OSError as error:
            out.write(f"cannot run {argv[0]}: {error.strerror}\n".encode())
            return SCRIPT_FAILED_TO_START
    return done.returncode


def _output_path(script: Script, node, dag_file: str, kind: str, directory: Path) -> Path:
    if script.debug_file:
        path = Path(script.debug_file)
        return path if path.is_absolute() else directory / path
    return Path(f"{dag_file}.{node.name}.{kind}.out")


def _account(owner: str):
    """Whom to run as: None for the schedd's own user, an account, or a string saying
    why the script cannot run."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(owner)
    except KeyError:
        return (f"user {owner!r} does not exist on this machine; DAG scripts run as their "
                "owner, never as root for another user")
    if account.pw_uid == 0 and owner != "root":
        return f"user {owner!r} has uid 0; refusing to run the script as root"
    return None if account.pw_uid == 0 else account
