"""The channel layer: nodes, their links, and the parts a node is made of.

==============  ==========================================================================
module          concern
==============  ==========================================================================
``_node``       the public API (:class:`Node`, :func:`open_node`) and task startup
``_core``       the node's core: the link table, the parts below, graceful shutdown
``_host``       the small typed interface links, peers and exports call the node through
``_state``      a link's lifecycle: states and one transition table per link kind
``_links``      the four link kinds (import/export x send/receive)
``_credit``     the credit window of a receiving link
``_frames``     value splitting (MORE pieces) and reassembly
``_peers``      the peer table: associations, node ids, HELLO
``_routing``    frames and control messages routed by table to their owner
``_exports``    exported channel ends, the work queue and the push pumps
``_refs``       channel ends inside values: encode, decode, claim, release
==============  ==========================================================================
"""

from __future__ import annotations

from ._node import EndpointFactory, Node, open_node

__all__ = ["EndpointFactory", "Node", "open_node"]
