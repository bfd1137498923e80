"""netchan's userspace SCTP stack (RFC 9260), sans-io.

Datagrams and the current time go in; datagrams, one next deadline and events come out. Nothing
here touches sockets, clocks, threads or an event loop: the trio driver in
``netchan.transport.udp`` (or a test's in-memory network) does the I/O. See
docs/architecture.md, "Driver contract".
"""
