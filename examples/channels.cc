// The README's first example: a producer fiber feeds a consumer through a
// channel. Exits 0 when the sum is right.
#include "runtime/channel.h"
#include "runtime/runtime.h"
using namespace weft::runtime;

int main() {
  Runtime rt({.workers = 4});  // default: $WEFT_THREADS or one per core
  return rt.run([] {
    Channel<int> ch;  // unbounded; Channel<int>(0) is a rendezvous
    auto producer = spawn([&] {
      for (int i = 1; i <= 100; ++i) ch.send(i);
      ch.close();
    });
    int sum = 0;
    while (auto v = ch.recv()) sum += *v;  // parks this fiber, never the thread
    producer.join();
    return sum == 5050 ? 0 : 1;
  });
}
