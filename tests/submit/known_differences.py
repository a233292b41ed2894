"""Where roost's reading of a submit description parts from HTCondor 23.10's own
translator (``htcondor.Submit.jobs``) on purpose, or where the oracle is not
condor_submit.  The one place these are listed: the differential tests name an entry by
its id for each case it covers.

Roost's bugs are not listed here: they are fixed.
"""

KNOWN_DIFFERENCES = {
    # -- defaults that HTCondor takes from its configuration -------------------------------
    "config-request-memory": (
        "with no request_memory, condor_submit writes JOB_DEFAULT_REQUESTMEMORY from its "
        "configuration (the oracle's null configuration: an expression on MemoryUsage and "
        "ImageSize, the executable's size); roost has no submit-side configuration and "
        "writes 128 MiB, the default of HTCondor's own configuration"
    ),
    "config-request-disk": (
        "with no request_disk, condor_submit writes JOB_DEFAULT_REQUESTDISK (the oracle: "
        "DiskUsage, the executable's size in KiB); roost writes the expression of "
        "HTCondor's shipped configuration on TransferInputSizeMB"
    ),
    "transfer-version-clause": (
        "for preserve_relative_paths and when_to_transfer_output = ON_SUCCESS, condor_submit "
        "makes the HasFileTransfer clause require an HTCondor startd of 8.9.7 or later "
        "(versioncmp(split(TARGET.CondorVersion)[1], \"8.9.7\") >= 0); roost's startds are "
        "not HTCondor's and advertise no CondorVersion, and every one of them does both, "
        "so roost leaves the version test out (the machines of meaning.MACHINES carry a "
        "CondorVersion, so the two Requirements match the same machines)"
    ),
    # -- what roost refuses, where condor_submit makes a job roost could not run as asked --
    "refused": (
        "a universe (docker, container, grid, vm, java, parallel, standard) or a command "
        "(docker_image, container_image, grid_resource, vm_*, java_*, machine_count) that "
        "roost's starter does not implement: condor_submit makes a job for it, roost "
        "refuses the file with file:line:col, since running it as a plain vanilla job "
        "would silently run it differently; so too what roost's daemons would not do as "
        "the file says: notification other than never (roost sends no mail)"
    ),
    # -- the oracle is the bindings' jobs() iterator, not condor_submit --------------------
    "oracle-empty-items": (
        "an item list with no items (queue ... matching with no match, queue in ()): the "
        "bindings' jobs() makes one job with empty item macros, condor_submit queues no "
        "job and says so; roost does as condor_submit does"
    ),
}
