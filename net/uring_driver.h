// The io_uring driver: a true completion (Proactor) backend. See the design
// notes at the top of uring_driver.cc.
#pragma once

#include <memory>
#include <string>

#include "net/io_driver.h"

namespace weft::net {

// Whether this kernel lets us create the rings we need and has every opcode
// the driver uses; if not, *why says what refused it. Any thread; the kernel
// is probed once and the answer kept.
bool uring_supported(std::string* why);

// The driver of worker `worker`: one ring per worker, created here (on the
// thread building the Runtime) and enabled by the worker's own thread at its
// first poll(). Throws std::system_error if the ring cannot be created.
std::unique_ptr<IoDriver> make_uring_driver(int worker);

}  // namespace weft::net
