"""The credentials a schedd gives the runs of its jobs, so that a running job can add jobs
to its workflow (``schedd.spawning`` says what they allow).

Each run is minted one as its claim starts it, signed with a key of the schedd's own
(``HOME/schedd/job.key``, 0600, made on the first start; not the pool key, so no other
daemon takes it).  It is never written to the job's ad, which anyone who reads the queue
sees: it goes to the startd with the activation, as the claim id does, and the startd puts
it in the job's environment with the schedd's address (``roost.client.Schedd`` inside the
job finds both there).  Every call made with it is checked against the queue: once the run
is over the credential is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path

from classad import ClassAd
from roost import security
from roost.client import JOB_TOKEN_VARIABLE
from roost.security import AuthError, Identity, JobGrant, SigningKey
from schedd import spawning
from schedd.job_queue import JobQueue

log = logging.getLogger("roost.schedd.job_tokens")

# The job's environment: its credential, and where the schedd that made it is (the
# schedd.address setting, as roost.config reads it from the environment).
TOKEN_VARIABLE = JOB_TOKEN_VARIABLE
ADDRESS_VARIABLE = "ROOST_SCHEDD_ADDRESS"
# A run's credential is good while the run lives; this only bounds a leaked one.
LIFETIME = 30 * 86400.0


def key_path(home: Path) -> Path:
    return Path(home) / "schedd" / "job.key"


class JobCredentials:
    """Mints the credentials of runs, and checks each call made with one."""

    def __init__(self, jobs: JobQueue, key: SigningKey, address: str = "") -> None:
        self.jobs = jobs
        self.key = key
        self.address = address  # the schedd's, as execute hosts reach it

    @classmethod
    def open(cls, jobs: JobQueue, home: Path) -> JobCredentials:
        return cls(jobs, SigningKey.load_or_create(key_path(home)))

    def environment(self, job: ClassAd) -> dict[str, str]:
        """What the run of ``job`` that is about to start gets in its environment (nothing
        for an owner no credential can name: the job runs, but cannot submit)."""
        starts = job.eval("NumJobStarts") if "NumJobStarts" in job else 0
        job_id = f"{job.eval('ClusterId')}.{job.eval('ProcId')}"
        grant = JobGrant(job_id, starts + 1, spawning.workflow_of(job))
        try:
            token = security.create_job_token(self.key, str(job.eval("Owner")), grant,
                                              LIFETIME)
        except ValueError as error:
            log.warning("job %s runs without a credential: %s", job_id, error)
            return {}
        return {TOKEN_VARIABLE: token, ADDRESS_VARIABLE: self.address}

    def admit(self, identity: Identity, method: str) -> None:
        """``AuthInterceptor``'s check: a job credential calls only what it may, and only
        while its run lives (AuthError otherwise)."""
        if identity.job is None:
            return
        refusal = spawning.method_refusal(method.rpartition("/")[2])
        if refusal is not None:
            raise AuthError("scope", refusal)
        ad, claimed = self.jobs.run_state_now(identity.job.job_id)
        refusal = spawning.run_refusal(identity.job, ad, claimed)
        if refusal is not None:
            raise AuthError("expired", refusal)
