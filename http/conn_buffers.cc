#include "http/conn_buffers.h"

#include <algorithm>
#include <cstring>

namespace weft::http::detail {

namespace {

constexpr size_t kMaxCached = 64;

// This thread's free list. A connection gives its buffers back before it
// parks and takes some after, and may resume on another worker in between;
// the compiler takes a thread_local's address to be the same for a whole
// function, so once take() and give() are inlined into one caller it may
// compute it once, before the park, and push to or pop from the first
// worker's list while that worker uses it too. Not inlined, and opaque to
// the optimiser (the asm), every call computes the address afresh on the
// thread that runs it. take() and give() never park.
[[gnu::noinline]] std::vector<std::unique_ptr<ConnBuffers>>& cache() {
  thread_local std::vector<std::unique_ptr<ConnBuffers>> c;
  std::vector<std::unique_ptr<ConnBuffers>>* p = &c;
  asm volatile("" : "+r"(p)::"memory");
  return *p;
}

}  // namespace

void InBuffer::resize(size_t n) {
  auto q = std::make_unique_for_overwrite<char[]>(n);
  if (n_) std::memcpy(q.get(), p_.get(), std::min(n_, n));
  p_ = std::move(q);
  n_ = n;
}

runtime::Result<size_t> ConnBuffers::fill(Transport& s, runtime::Deadline d) {
  if (end == in.size()) {
    if (begin > floor) {
      std::memmove(in.data() + floor, in.data() + begin, end - begin);
      end -= begin - floor;
      begin = floor;
    }
    if (end == in.size()) in.resize(in.size() * 2);
  }
  runtime::Result<size_t> n = s.read(in.data() + end, std::min(in.size() - end, kMaxRead), d);
  if (n) end += *n;
  return n;
}

void ConnBuffers::compact() {
  if (begin > 0) {
    std::memmove(in.data(), in.data() + begin, end - begin);
    end -= begin;
    begin = 0;
  }
  floor = 0;
}

std::unique_ptr<ConnBuffers> ConnBuffers::take(size_t nfields) {
  std::vector<std::unique_ptr<ConnBuffers>>& c = cache();
  std::unique_ptr<ConnBuffers> b;
  if (!c.empty() && c.back()->fields.size() == nfields) {
    b = std::move(c.back());
    c.pop_back();
  } else {
    b = std::make_unique<ConnBuffers>();
    b->in.resize(kInitialBuffer);
    b->fields.resize(nfields);
  }
  return b;
}

void ConnBuffers::give(std::unique_ptr<ConnBuffers> b) {
  std::vector<std::unique_ptr<ConnBuffers>>& c = cache();
  if (c.size() >= kMaxCached || b->in.size() > 4 * kInitialBuffer ||
      b->fields.size() > kInitialFields || b->out.capacity() > kPipelineFlush)
    return;
  b->begin = b->end = b->floor = 0;
  b->out.clear();
  c.push_back(std::move(b));
}

}  // namespace weft::http::detail
