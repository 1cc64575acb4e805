// sfvu/base/bytes.h: a byte vector whose resize() does not zero-fill.
//
// Frame buffers are always overwritten right after they grow; zero-filling megabytes per
// frame first (std::vector<uint8_t> does) costs as much as the colour conversion itself.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace sfvu {

/// std::allocator whose value-less construct() default-initialises (a no-op for bytes).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

/// Raw bytes (frames, tensors) that grow without zero-filling.
using Bytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

}  // namespace sfvu
