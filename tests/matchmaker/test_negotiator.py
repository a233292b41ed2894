"""matchmaker.negotiator: the shell's cycle over a collector store, with a fake schedd."""

from __future__ import annotations

import threading

from classad import ClassAd, ExprTree
from matchmaker.accountant import Accountant
from matchmaker.collector import AdStore
from matchmaker.negotiation import Request
from matchmaker.negotiator import Negotiator


class Talk:
    """A schedd's side of the Negotiate conversation: one autocluster of idle jobs."""

    def __init__(self, job: ClassAd, count: int) -> None:
        self.job, self.count = job, count
        self.sent: list = []

    def requests(self):
        return [Request(1, self.count, self.job)]

    def send(self, matches):
        self.sent.extend(matches)

    def close(self):
        pass


def machine(name: str) -> ClassAd:
    ad = ClassAd({"Name": name, "Cpus": 1, "Memory": 1024, "Disk": 10**6,
                  "State": "Unclaimed", "MyAddress": "127.0.0.1:1"})
    ad["Requirements"] = ExprTree("TARGET.RequestCpus <= MY.Cpus")
    return ad


def advertise(store: AdStore, ad_type: str, ad: ClassAd, private: ClassAd | None = None):
    store.update(ad_type, ad, [], 0.0, private=private)


def test_a_new_slot_wakes_the_negotiator_only_while_jobs_wait():
    store = AdStore()
    job = ClassAd({"Owner": "alice", "RequestCpus": 1, "RequestMemory": 1, "RequestDisk": 1})
    job["Requirements"] = ExprTree("true")
    talk = Talk(job, 2)
    advertise(store, "Submitter", ClassAd({"Name": "alice@submit", "Owner": "alice",
                                           "IdleJobs": 2}))
    negotiator = Negotiator(store, threading.Lock(), Accountant(now=0.0),
                            talk=lambda ad, n: talk, clock=lambda: 0.0)
    negotiator.slot_appeared()
    assert not negotiator._wake.is_set()  # nothing waits yet
    assert negotiator.cycle().rejections == 1  # no slot at all: the jobs wait
    negotiator.slot_appeared()
    assert negotiator._wake.is_set()
    negotiator._wake.clear()
    for name in ("slot1@a", "slot2@a"):
        advertise(store, "Machine", machine(name), ClassAd({"Name": name, "ClaimId": name}))
    assert negotiator.cycle().matches == 2 and len(talk.sent) == 2
    negotiator.slot_appeared()
    assert not negotiator._wake.is_set()  # every job was matched
