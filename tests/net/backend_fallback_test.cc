// Where the kernel refuses io_uring (a seccomp policy, io_uring_disabled, a
// kernel built without it), the default backend is epoll and naming io_uring
// is refused with the kernel's reason. The refusal is made here with a
// seccomp filter on io_uring_setup, installed in a child process before
// anything has probed the kernel, so the test needs no privilege and does
// not depend on how this machine is configured.
#include <doctest/doctest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/backend.h"
#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/runtime.h"
#include "tests/runtime/child_process.h"

using namespace weft;
using weft::runtime::testing::run_in_child;

namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "backend_fallback_test: add this architecture's AUDIT_ARCH"
#endif

// From now on io_uring_setup fails with `err` in this process.
bool refuse_io_uring_setup(int err) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// In the child: prints what went wrong and exits 1.
[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::_Exit(1);
}

}  // namespace

TEST_CASE("where the kernel refuses io_uring the default backend is epoll and still serves") {
  struct Refusal {
    int err;
    const char* reason;  // what the refusal message must say
  };
  for (Refusal r : {Refusal{EPERM, "io_uring_disabled, or a seccomp policy"},
                    Refusal{ENOSYS, "kernel built without io_uring"}}) {
    INFO("io_uring_setup fails with errno " << r.err);
    auto child = run_in_child([r] {
      if (!refuse_io_uring_setup(r.err)) fail("cannot install the seccomp filter");
      unsetenv("WEFT_IO");
      std::string why;
      if (net::backend_available(net::Backend::kIoUring, &why)) fail("io_uring still available");
      if (why.find(r.reason) == std::string::npos) fail("refusal without the reason: " + why);
      const net::Backend b = net::backend_from_flag("");
      if (b != net::Backend::kEpoll) fail(std::string("default is ") + net::backend_name(b));
      try {
        (void)net::backend_from_flag("io_uring");
        fail("--io=io_uring accepted");
      } catch (const net::BackendError& e) {
        if (std::string(e.what()).find("cannot run here: " + why) == std::string::npos) {
          fail(std::string("refused without the reason: ") + e.what());
        }
      }
      // The fallback serves: one echo through a listener on the default backend.
      runtime::Options o;
      o.workers = 2;
      net::use_backend(o, b);
      runtime::Runtime rt(o);
      const bool echoed = rt.run([] {
        auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
        if (!l) return false;
        auto server = runtime::spawn([&] {
          auto c = l.value().accept();
          char b[4];
          return c && c.value().read_exact(b, 4).ok() && c.value().write(b, 4).ok();
        });
        auto c = net::TcpStream::connect(l.value().local_address());
        char b[4];
        const bool ok = c && c.value().write("ping", 4).ok() && c.value().read_exact(b, 4).ok() &&
                        std::string(b, 4) == "ping";
        return server.join() && ok;
      });
      if (!echoed) fail("no echo on the fallback backend");
      std::_Exit(0);
    });
    CHECK(child.err == "");
    CHECK(child.exit_code == 0);
  }
}
