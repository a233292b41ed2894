"""ClassAds to and from their gRPC messages (``roost.rpc.classad_pb2.ClassAd``): each
attribute as its name and its expression's text, which the other side parses again."""

from __future__ import annotations

import classad
from classad import ClassAd
from roost.rpc import classad_pb2


def ad_message(ad: ClassAd) -> classad_pb2.ClassAd:
    return classad_pb2.ClassAd(attrs=[classad_pb2.Attribute(name=n, expr=t)
                                      for n, t in classad.ad_to_pairs(ad)])


def message_ad(message: classad_pb2.ClassAd) -> ClassAd:
    """The ad of a message; ClassAdSyntaxError for an attribute that does not parse."""
    return classad.ad_from_pairs((a.name, a.expr) for a in message.attrs)
