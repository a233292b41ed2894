"""Submit descriptions for the differential suite: hand-written ones over every command
roost reads, and generated ones (seeded random combinations of commands and queue forms).

The oracle reads one queue statement per file, so files with several are left to roost's
own tests (tests/roost/test_submit_description.py).

A case is a submit text, the files its scratch directory holds, the custom attributes to
compare besides the facets every job has, and the ids of ``KNOWN_DIFFERENCES`` it shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    files: dict[str, str] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()

    def full_differences(self) -> tuple[str, ...]:
        """The case's own, plus the configuration defaults a file leaves to HTCondor."""
        found = list(self.differences)
        lowered = self.text.lower()
        if "request_memory" not in lowered:
            found.append("config-request-memory")
        if "request_disk" not in lowered:
            found.append("config-request-disk")
        return tuple(found)


DATA = {"a.dat": "1\n", "b.dat": "2\n", "c.txt": "3\n",
        "items.txt": "x 1\ny 2\n# not an item\nz 3\n", "sub/d.dat": "4\n"}

HAND = [
    Case("minimal", "executable = /bin/true\nqueue\n"),
    Case("relative-executable", "executable = run.sh\nqueue\n"),
    Case("args-old", "executable = x\nargs = a  b   c\nqueue\n"),
    Case("arguments-old", "executable = x\narguments = -n 3 --flag\nqueue\n"),
    Case("arguments-new", "executable = x\narguments = \"a 'b c' d\"\nqueue\n"),
    Case("arguments-new-quotes", "executable = x\narguments = \"one \"\"two\"\" 'th''ree'\"\n"
         "queue\n"),
    Case("env-old", "executable = x\nenv = A=1;B=two\nqueue\n"),
    Case("environment-old", "executable = x\nenvironment = A=1;B=2;C=\nqueue\n"),
    Case("environment-new", "executable = x\nenvironment = \"A=1 B='x y' C=3\"\nqueue\n"),
    Case("paths", "executable = x\ninput = in.txt\noutput = out/$(Process).txt\n"
         "error = /tmp/err.txt\nlog = job.log\nqueue 2\n"),
    Case("initialdir", "executable = x\ninitialdir = sub\noutput = o.txt\nqueue\n",
         files=DATA),
    Case("initialdir-absolute", "executable = x\ninitialdir = /tmp\ninput = i\nqueue\n"),
    Case("universe-vanilla", "universe = vanilla\nexecutable = x\nqueue\n"),
    Case("universe-local", "universe = local\nexecutable = x\nqueue\n"),
    Case("universe-scheduler", "universe = scheduler\nexecutable = x\nqueue\n"),
    Case("requests", "executable = x\nrequest_cpus = 4\nrequest_memory = 2G\n"
         "request_disk = 3 GB\nrequest_gpus = 2\nqueue\n"),
    Case("requests-units", "executable = x\nrequest_memory = 1536\nrequest_disk = 512M\n"
         "queue\n"),
    Case("request-expression", "executable = x\n"
         "request_cpus = ifThenElse(MemoryUsage > 1000, 2, 1)\n"
         "request_memory = ifThenElse(MemoryUsage =!= undefined, MemoryUsage * 2, 1024)\n"
         "queue\n"),
    Case("priority", "executable = x\npriority = -5\nqueue\n"),
    Case("hold", "executable = x\nhold = true\nqueue\n"),
    Case("max-retries", "executable = x\nmax_retries = 3\nqueue\n"),
    Case("retries-success-code", "executable = x\nmax_retries = 4\nsuccess_exit_code = 2\n"
         "queue\n"),
    Case("retry-until-code", "executable = x\nretry_until = 3\nqueue\n"),
    Case("retry-until-expr", "executable = x\nmax_retries = 5\n"
         "retry_until = ExitCode == 2 || ExitBySignal\nqueue\n"),
    Case("retries-and-on-exit-remove", "executable = x\nmax_retries = 3\n"
         "on_exit_remove = ExitCode == 3\nqueue\n"),
    Case("retries-release", "executable = x\nmax_retries = 2\n"
         "periodic_release = NumJobStarts < JobMaxRetries\nqueue\n"),
    Case("on-exit", "executable = x\non_exit_remove = ExitCode =?= 0\n"
         "on_exit_hold = ExitBySignal == true\nqueue\n"),
    Case("periodic", "executable = x\nperiodic_hold = MemoryUsage > 2000\n"
         "periodic_release = HoldReasonCode == 3 && NumJobStarts < 3\n"
         "periodic_remove = RemoteWallClockTime > 3600\nqueue\n"),
    Case("requirements", "executable = x\nrequirements = Memory > 2048\nqueue\n"),
    Case("requirements-arch", "executable = x\nrequirements = Arch == \"aarch64\"\nqueue\n"),
    Case("requirements-gpus", "executable = x\nrequest_gpus = 1\nrequirements = Cpus >= 8\n"
         "queue\n"),
    Case("rank", "executable = x\nrank = Memory\nqueue\n"),
    Case("transfer", "executable = x\nshould_transfer_files = YES\n"
         "when_to_transfer_output = ON_EXIT_OR_EVICT\ntransfer_input_files = a.dat, b.dat\n"
         "queue\n"),
    Case("transfer-output-if-needed", "executable = x\nshould_transfer_files = IF_NEEDED\n"
         "transfer_output_files = out.txt,res\nqueue\n"),
    Case("transfer-output-default", "executable = x\ntransfer_output_files = out.txt\n"
         "queue\n"),
    Case("transfer-no", "executable = x\nshould_transfer_files = NO\nqueue\n"),
    Case("transfer-if-needed", "executable = x\nshould_transfer_files = IF_NEEDED\nqueue\n"),
    Case("transfer-output-remaps", "executable = x\nshould_transfer_files = YES\n"
         "transfer_output_remaps = \"out.txt=o/$(Process).txt;res=r\"\nqueue 2\n"),
    Case("transfer-output-remaps-spaces", "executable = x\n"
         "transfer_output_remaps = \"a = b ; c=d\"\nqueue\n"),
    Case("transfer-output-remaps-unquoted", "executable = x\n"
         "transfer_output_remaps = out.txt=o.txt\nqueue\n"),
    Case("transfer-output-yes", "executable = x\nshould_transfer_files = YES\n"
         "transfer_output_files = out.txt,res\nqueue\n"),
    Case("transfer-everything", "executable = x\nshould_transfer_files = YES\n"
         "transfer_input_files = a.dat, sub/d.dat\ntransfer_output_files = out.txt\n"
         "transfer_executable = false\nmax_transfer_input_mb = 10\n"
         "max_transfer_output_mb = 2 * 3\ninput = in.txt\noutput = o.txt\nerror = e.txt\n"
         "transfer_input = false\ntransfer_output = true\nqueue\n", files=DATA,
         attributes=("TransferExecutable", "MaxTransferInputMB", "MaxTransferOutputMB",
                     "TransferIn", "TransferOut")),
    Case("transfer-preserve", "executable = x\npreserve_relative_paths = true\n"
         "transfer_input_files = sub/d.dat\nqueue\n", files=DATA,
         attributes=("PreserveRelativePaths",), differences=("transfer-version-clause",)),
    Case("transfer-on-success", "executable = x\nwhen_to_transfer_output = on_success\n"
         "queue\n", differences=("transfer-version-clause",)),
    Case("transfer-evict-default", "executable = x\nwhen_to_transfer_output = ON_EXIT_OR_EVICT\n"
         "queue\n"),
    Case("transfer-evict-if-needed", "executable = x\nshould_transfer_files = IF_NEEDED\n"
         "when_to_transfer_output = ON_EXIT_OR_EVICT\nqueue\n"),
    Case("transfer-when-bogus", "executable = x\nwhen_to_transfer_output = bogus\nqueue\n"),
    Case("transfer-no-when", "executable = x\nshould_transfer_files = NO\n"
         "when_to_transfer_output = ON_EXIT\nqueue\n"),
    Case("transfer-no-executable", "executable = x\nshould_transfer_files = NO\n"
         "transfer_executable = true\nqueue\n"),
    Case("transfer-no-executable-false", "executable = x\nshould_transfer_files = NO\n"
         "transfer_executable = false\nqueue\n", attributes=("TransferExecutable",)),
    Case("vacate-kill", "executable = x\njob_max_vacate_time = 120\nkill_sig = SIGINT\n"
         "queue\n"),
    Case("kill-sig-number", "executable = x\nkill_sig = 9\nqueue\n"),
    Case("leave-in-queue", "executable = x\nleave_in_queue = true\nqueue\n"),
    Case("leave-in-queue-expr", "executable = x\n"
         "leave_in_queue = JobStatus == 4 && CompletionDate > 0\nqueue\n"),
    Case("stream", "executable = x\noutput = o\nerror = e\nstream_output = true\n"
         "stream_error = true\nqueue\n"),
    Case("notify", "executable = x\nnotify_user = alice@example.org\nnotification = Never\n"
         "queue\n"),
    Case("notify-user-only", "executable = x\nnotify_user = alice@example.org\nqueue\n"),
    Case("durations", "executable = x\nallowed_execute_duration = 3600\n"
         "allowed_job_duration = 7200\nqueue\n"),
    Case("getenv", "executable = x\ngetenv = true\nqueue\n"),
    Case("getenv-with-environment", "executable = x\ngetenv = true\n"
         "environment = \"HOME=/elsewhere A=1\"\nqueue\n"),
    Case("getenv-names", "executable = x\ngetenv = HOME, ORACLE_*\nqueue\n"),
    Case("accounting", "executable = x\naccounting_group = physics\n"
         "accounting_group_user = bob\nqueue\n"),
    Case("accounting-no-user", "executable = x\naccounting_group = group_a.sub\nqueue\n"),
    Case("batch-and-limits", "executable = x\nbatch_name = sweep\n"
         "concurrency_limits = db:2, license\nqueue\n"),
    Case("custom-attributes", "executable = x\n+Project = \"roost\"\nMY.Weight = 2 * 3\n"
         "+Tag = \"$(Process)-$(Cluster)\"\nqueue 2\n",
         attributes=("Project", "Weight", "Tag")),
    Case("macros", "executable = x\nname = run\nwhere = /data/$(name)\n"
         "arguments = $(where) $(undefined_macro) $(missing:fallback)\nqueue\n"),
    Case("unknown-command-as-variable", "executable = x\nmy_setting = 42\n"
         "arguments = --n $(my_setting)\nqueue\n"),
    Case("macro-int-real", "executable = x\nn = 7\nr = 2.5\n"
         "arguments = $INT(n) $INT(n,%03d) $REAL(r) $REAL(r,%.3f) $INT(3*4)\nqueue\n"),
    Case("macro-eval", "executable = x\nn = 6\n"
         "arguments = $EVAL(n * 7) $EVAL(strcat(\"a\", \"b\")) $EVAL(Process + 1)\nqueue 2\n"),
    Case("macro-choice", "executable = x\narguments = $CHOICE(Process, red, green, blue)\n"
         "queue 3\n"),
    Case("macro-choice-list", "executable = x\ncolours = red, green, blue\n"
         "arguments = $CHOICE(1, colours)\nqueue\n"),
    Case("macro-f", "executable = x\nf = /data/run/input.tar.gz\n"
         "arguments = $Fn(f) $Fx(f) $Fnx(f) $Fp(f) $Fd(f) $Fdd(f) $Ff(f)\nqueue\n"),
    Case("macro-f-options", "executable = x\nf = /data/run/input.tar.gz\ng = dir/sub/name\n"
         "h = /top.c\nk = plain\nw = a\\b\\c.d\n"
         "arguments = [$Fu(w)] [$Fw(f)] [$Fdb(f)] [$Fddb(g)] [$Fddd(f)] [$Fxb(f)] [$Fpb(g)] "
         "[$Fpb(h)] [$Fd(h)] [$Fpw(f)] [$Fnw(g)] [$Ffw(g)] [$Fpu(w)] [$Fuw(g)] [$Fwu(w)] "
         "[$Fab(f)] [$Fdx(f)] [$Fdpx(g)] [$Fpx(k)] [$Fpxb(h)] [$Fdnb(f)] [$Ffn(g)] [$Ffp(g)] "
         "[$Fnxb(f)] [$DIRNAME(f)] [$BASENAME(g)]\nqueue\n"),
    Case("macro-f-quotes", "executable = x\nf = /data/run/input.tar.gz\n"
         "+Double = $Fnq(f)\n+Single = \"$Fqa(f)\"\nqueue\n", attributes=("Double", "Single")),
    Case("macro-eval-names", "executable = x\nsum = 1 + 2\nslist = \"a,B,c\"\n"
         "list = split($(slist))\ncount = size($(list))\n"
         "arguments = $EVAL(sum) $EVAL(sum * 2) $EVAL(slist) $EVAL( sum ) $EVAL(\"q\") "
         "$EVAL(1/0) $EVAL(count)\nqueue\n"),
    Case("args-old-quotes", "executable = x\narguments = a\\\"b c\nqueue\n"),
    Case("args-old-bare-quote", "executable = x\nargs = x \"y\"\nqueue\n"),
    Case("macro-env-string", "executable = x\ns = \"hello\"\n"
         "arguments = $ENV(HOME) $ENV(NO_SUCH_VARIABLE) $ENV(NO_SUCH_VARIABLE:dflt) "
         "$ENV(HOME:dflt) $STRING(s) $STRING(s,<%s>)\nqueue\n"),
    Case("macro-unclosed", "executable = x\narguments = [$(foo] a$(b $(c\nqueue\n"),
    Case("macro-f-item", "executable = x\narguments = $Fn(item) $Fx(item)\n"
         "queue matching files *.dat\n", files=DATA),
    Case("queue-count", "executable = x\narguments = $(Process) $(Step)\nqueue 3\n"),
    Case("queue-in", "executable = x\narguments = $(Item) $(ItemIndex)\n"
         "queue in (alpha, beta gamma)\n"),
    Case("queue-in-vars", "executable = x\narguments = $(a)-$(b)\nqueue a, b in (\n1 2\n3 4\n)\n"),
    Case("queue-from-file", "executable = x\narguments = $(name) $(n)\n"
         "queue name, n from items.txt\n", files=DATA),
    Case("queue-from-inline", "executable = x\narguments = $(x)\nqueue x from (\nfoo\nbar\n)\n"),
    Case("queue-matching", "executable = x\ninput = $(file)\nqueue file matching *.dat\n",
         files=DATA),
    Case("queue-matching-files-slice", "executable = x\narguments = $(Item)\n"
         "queue 2 matching files [1:] *.dat *.txt\n", files=DATA),
    Case("queue-slice-in", "executable = x\narguments = $(Item)\nqueue in [::2] (a b c d e)\n"),
    Case("continuation", "executable = x\narguments = a \\\n  b \\\n  c\n# comment\nqueue\n"),
    Case("case-insensitive", "Executable = x\nArguments = A\nRequest_Cpus = 2\nQueue\n"),
    Case("cluster-in-output", "executable = x\noutput = out.$(Cluster).$(Process)\n"
         "queue 2\n"),
    Case("match-list-empty-dirs", "executable = x\narguments = $(Item)\n"
         "queue matching dirs *\n", files=DATA),
]

# Refused by roost (see KNOWN_DIFFERENCES["refused"]); each names the line and command.
REFUSED = [
    ("docker", "executable = x\nuniverse = docker\ndocker_image = alpine\nqueue\n", 2),
    ("docker-image-only", "executable = x\ndocker_image = alpine\nqueue\n", 2),
    ("container", "executable = x\ncontainer_image = img.sif\nqueue\n", 2),
    ("container-universe", "universe = container\ncontainer_image = a.sif\nexecutable = x\n"
     "queue\n", 1),
    ("grid", "executable = x\nuniverse = grid\ngrid_resource = batch slurm\nqueue\n", 2),
    ("vm", "executable = x\nuniverse = vm\nvm_type = kvm\nvm_memory = 512\n"
     "vm_disk = a.img:vda:w\nqueue\n", 2),
    ("java", "executable = Main.class\nuniverse = java\narguments = Main\nqueue\n", 2),
    ("parallel", "executable = x\nuniverse = parallel\nmachine_count = 4\nqueue\n", 2),
    ("notification-error", "executable = x\nnotify_user = alice@example.org\n"
     "notification = Error\nqueue\n", 3),
    ("notification-always", "executable = x\nnotification = always\nqueue\n", 2),
]

# The queue statements that find no items: condor_submit queues nothing and says so.
EMPTY = [
    ("matching-none", "executable = x\narguments = $(file)\nqueue file matching *.nomatch\n"),
    ("in-empty", "executable = x\nqueue in ()\n"),
]

# -- generated -----------------------------------------------------------------------------

_POOL = {
    "arguments": ["a b c", "\"x 'y z'\"", "$(Process) $(Item)", "--n=$INT(Process,%02d)"],
    "environment": ["A=1;B=2", "\"A=1 B='two words'\"", "P=$(Process)"],
    "input": ["in.txt", "/dev/null", "$(Item).in"],
    "output": ["out.$(Process)", "/tmp/o", "logs/$(Cluster).out"],
    "error": ["err.txt", "e.$(ItemIndex)"],
    "log": ["job.log"],
    "initialdir": ["sub", "/tmp"],
    "request_cpus": ["1", "3", "ifThenElse(MemoryUsage > 1000, 4, 2)"],
    "request_memory": ["100", "2 GB", "512M"],
    "request_disk": ["1G", "2048"],
    "request_gpus": ["1", "0"],
    "priority": ["3", "-1"],
    "max_retries": ["0", "2", "5"],
    "success_exit_code": ["1"],
    "retry_until": ["2", "ExitCode > 2"],
    "on_exit_remove": ["ExitCode == 1", "NumJobCompletions > 2"],
    "on_exit_hold": ["ExitCode == 2", "ExitBySignal"],
    "periodic_hold": ["MemoryUsage > 3000"],
    "periodic_release": ["NumJobStarts < 3", "HoldReasonCode == 3"],
    "periodic_remove": ["RemoteWallClockTime > 100"],
    "requirements": ["Memory > 2000", "Cpus > 4 && HasFileTransfer", "Arch == \"aarch64\""],
    "should_transfer_files": ["YES", "NO", "IF_NEEDED"],
    "transfer_output_files": ["a, b", "res"],
    "job_max_vacate_time": ["30"],
    "kill_sig": ["SIGUSR1", "SIGKILL", "2"],
    "leave_in_queue": ["true", "false"],
    "stream_output": ["true"],
    "notification": ["never", "complete", "error"],
    "notify_user": ["bob@example.org"],
    "allowed_job_duration": ["600"],
    "hold": ["true", "false"],
    "batch_name": ["gen"],
    "accounting_group": ["grp"],
    "getenv": ["true", "false"],
}
_QUEUES = ["queue", "queue 3", "queue in (p q r)", "queue 2 in (s t)", "queue v from items.txt",
           "queue matching files *.dat", "queue in [1:] (u v w)"]


def generated(count: int = 60, seed: int = 14) -> list[Case]:
    chooser = random.Random(seed)
    cases = []
    for n in range(count):
        names = chooser.sample(sorted(_POOL), chooser.randint(2, 9))
        lines = ["executable = prog"]
        lines += [f"{name} = {chooser.choice(_POOL[name])}" for name in names]
        lines.append(chooser.choice(_QUEUES))
        cases.append(Case(f"generated-{n}", "\n".join(lines) + "\n", files=DATA,
                          differences=("refused",) if _refused(lines) else ()))
    return cases


def _refused(lines: list[str]) -> bool:
    """Whether roost refuses a generated file (KNOWN_DIFFERENCES["refused"]): it asks for
    mail."""
    values = dict(line.split(" = ", 1) for line in lines if " = " in line)
    return values.get("notification", "never") != "never"
