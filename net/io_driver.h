// IoDriver: one worker's I/O manager. Each worker of a runtime configured
// with use_backend() owns one driver, which is that worker's EventSource:
// the worker waits in it when idle, and it wakes the fibers whose I/O is
// done. The calls below are the blocking-style primitives TcpStream and
// TcpListener are built from; they park only the calling fiber.
//
// Two families implement it:
// - readiness drivers (select, poll, epoll) try the syscall first and, on
//   EAGAIN, park the fiber until the descriptor is ready (readiness.h);
// - the io_uring driver submits the operation itself and parks the fiber
//   until its completion arrives (uring_driver.cc).
//
// Every call: fibers only; `deadline` kNoDeadline means none; on failure a
// Result carrying errno (ETIMEDOUT at the deadline, ECANCELED if the socket
// was closed by another fiber). Byte counts may be partial except where said.
//
//   IoDriver* io = current_driver();                 // this worker's driver
//   runtime::Result<size_t> n =
//       io->recv(sock, buf, sizeof buf, Clock::now() + 5s, ReadHint::kReady);
//
// # Design: one driver per worker, not one shared poller
//
// The choice (GHC's multicore I/O manager, MIO): each worker has its own
// epoll instance, poll/select watch list or io_uring ring. A fiber waits on
// the driver of the worker it runs on; that worker's poll() reports the event
// and makes the fiber runnable in *its own* run queue, so the wake-up needs
// no cross-thread handoff and the woken fiber resumes where its socket's
// state is cache-warm. Idle workers are woken through the scheduler's idle
// protocol and steal from that queue when one worker gets more than it can
// run. One shared poller would need a lock or a single polling thread that
// hands every event to another thread (a futex wake, ~1 us here, per event);
// per-worker instances need neither, and io_uring's SINGLE_ISSUER and
// DEFER_TASKRUN, which save the kernel work per operation, require a ring
// per submitting thread anyway. A shared poller was not built to compare;
// what was measured is in bench/RESULTS.md.
//
// Migration: a readiness descriptor belongs to the driver where a fiber first
// waited on it (its home, readiness.h); a fiber that later runs elsewhere
// still parks on the home's state and interrupts the home, whose next poll
// includes it. An io_uring operation belongs to the ring it was submitted to,
// and its completion wakes the fiber wherever it will run next.
//
// Interruption: a worker asleep in epoll_wait / poll / select / io_uring_enter
// is woken by interrupt(), a write to an eventfd that is part of every wait
// (a read SQE kept armed, for io_uring). The scheduler calls it when work is
// handed to an idle worker (EventSource in runtime/).
//
// The cost: a worker busy running one long CPU-bound fiber polls its driver
// only between fibers (every 61 switches at least). An idle worker stands in
// for it after 10 ms (see "A worker stuck in a fiber" in scheduler.cc): it
// fires its timers and polls its driver (EventSource::poll_for_busy_owner):
// a readiness driver's descriptors directly; an io_uring ring, which only
// its owner may enter, through a signal handler on the owner's thread when
// kicks are on (see "A busy owner" in uring_driver.cc; off by default, so
// io_uring operations then wait for that worker).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "net/backend.h"
#include "net/socket.h"
#include "runtime/clock.h"
#include "runtime/event_source.h"
#include "runtime/park.h"
#include "runtime/result.h"

namespace weft::net {

using runtime::Deadline;
using runtime::kNoDeadline;

// What a reader expects of the bytes it asks for. Only a hint: the results
// are the same either way; a backend that can use it saves work.
enum class ReadHint : uint8_t {
  // The bytes are probably there (a new connection, the rest of a request):
  // try the read at once.
  kReady,
  // They probably are not yet (a keep-alive connection that has just
  // answered): io_uring arms the poll first (IORING_RECVSEND_POLL_FIRST)
  // instead of letting the kernel try a read bound to fail. The readiness
  // backends read at once either way.
  kExpectWait,
};

class IoDriver : public runtime::EventSource {
 public:
  IoDriver() { kind = &kKind; }
  static const char kKind;  // EventSource::kind of every IoDriver
  virtual Backend backend() const noexcept = 0;

  // At least one byte, or 0 at end of stream.
  virtual runtime::Result<size_t> recv(Socket& s, void* buf, size_t len, Deadline d,
                                       ReadHint hint) = 0;
  virtual runtime::Result<size_t> send(Socket& s, const void* buf, size_t len, Deadline d) = 0;
  virtual runtime::Result<size_t> writev(Socket& s, const iovec* iov, int iovcnt, Deadline d) = 0;
  // A new non-blocking, close-on-exec descriptor; the peer's address in *peer.
  virtual runtime::Result<int> accept(Socket& s, sockaddr_storage* peer, Deadline d) = 0;
  // Connects a non-blocking socket; ECONNREFUSED etc. as values.
  virtual runtime::Result<void> connect(Socket& s, const sockaddr* addr, socklen_t len,
                                        Deadline d) = 0;
  // Sends up to `len` bytes of `file_fd` from `offset` without copying them
  // through user space.
  virtual runtime::Result<size_t> sendfile(Socket& s, int file_fd, off_t offset, size_t len,
                                           Deadline d) = 0;

  // Files: never stall the worker on a slow disk. An `offset` of -1 reads or
  // writes at the descriptor's position (pipes, terminals, O_APPEND logs).
  virtual runtime::Result<int> open(const char* path, int flags, mode_t mode) = 0;
  virtual runtime::Result<size_t> pread(int fd, void* buf, size_t len, off_t offset) = 0;
  virtual runtime::Result<size_t> pwrite(int fd, const void* buf, size_t len, off_t offset) = 0;

  // Arms the callback waiter `w` (runtime::Waiter::bind_callback) to be woken
  // once: kWoken when `s` has bytes to read, reached end of stream or failed,
  // kClosed when it is closed. Nothing parks meanwhile; `w` must live until
  // woken, and the caller holds a Socket::Use until then, so a close shuts
  // the socket down (and wakes `w`) instead of releasing the descriptor.
  // ECANCELED if `s` is closed already. Fibers only.
  virtual runtime::Result<void> notify_readable(Socket& s, runtime::Waiter& w) = 0;

  // Wakes every fiber this driver has parked on `s` (they see ECANCELED);
  // any thread. Called by Socket::close before the shutdown.
  virtual void cancel(Socket& s) noexcept = 0;
  // Drops the driver's state for `s` before its descriptor is closed.
  virtual void forget(Socket& s) noexcept = 0;
};

// The driver of the worker running the calling fiber; null outside a fiber
// or in a runtime without use_backend().
IoDriver* current_driver() noexcept;

}  // namespace weft::net
