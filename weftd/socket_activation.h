// Socket activation: the listening socket systemd (or any manager speaking
// its protocol) opened and passed down, instead of one weftd binds itself.
// systemd sets LISTEN_PID to our pid and LISTEN_FDS to how many descriptors
// it passes from 3 on; weftd serves one listener, so it takes exactly one.
// The variables are removed so CGI children do not take them for theirs.
// weftd/weftd.socket and weftd/weftd.service are a unit pair to copy to
// /etc/systemd/system.
//
//   int fd = weftd::inherited_listener();   // -1: none; exits 2 if malformed
//   auto l = fd >= 0 ? net::TcpListener::adopt(fd, o) : net::TcpListener::bind(addr, o);
#pragma once

namespace weft::weftd {

inline constexpr int kFirstInheritedFd = 3;  // SD_LISTEN_FDS_START

// The inherited listening descriptor, or -1 when LISTEN_PID is not this
// process. Ends the program with status 2 if LISTEN_FDS is not 1. Call once,
// before any thread starts (it unsets environment variables).
int inherited_listener();

}  // namespace weft::weftd
