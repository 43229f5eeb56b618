#include "runtime/test_hook.h"

namespace weft::runtime::detail {

std::atomic<Hook> g_test_hook{nullptr};

void set_test_hook(Hook h) noexcept { g_test_hook.store(h, std::memory_order_seq_cst); }

}  // namespace weft::runtime::detail
