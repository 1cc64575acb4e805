// The capture ring buffer of `sfvu stream` (apps/src/ring_buffer.h): drop-oldest with counts,
// close/wake-up semantics, and a producer that never waits for the consumer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "ring_buffer.h"

namespace sfvu::cli {
namespace {

using namespace std::chrono_literals;

TEST(RingBuffer, KeepsOrderUntilFull) {
  RingBuffer<int> ring(3);
  EXPECT_EQ(ring.push(1), PushResult::kQueued);
  EXPECT_EQ(ring.push(2), PushResult::kQueued);
  EXPECT_EQ(ring.size(), 2u);
  EXPECT_EQ(ring.pop_for(0ms), 1);
  EXPECT_EQ(ring.pop_for(0ms), 2);
  EXPECT_EQ(ring.pop_for(0ms), std::nullopt);  // empty and open: times out
  EXPECT_EQ(ring.dropped(), 0);
  EXPECT_EQ(ring.pushed(), 2);
}

TEST(RingBuffer, FullDropsTheOldestAndCountsIt) {
  RingBuffer<int> ring(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ring.push(i), PushResult::kQueued);
  EXPECT_EQ(ring.push(3), PushResult::kDroppedOldest);  // 0 goes
  EXPECT_EQ(ring.push(4), PushResult::kDroppedOldest);  // 1 goes
  EXPECT_EQ(ring.dropped(), 2);
  EXPECT_EQ(ring.pushed(), 5);
  EXPECT_EQ(ring.size(), 3u);
  std::vector<int> all;
  ASSERT_TRUE(ring.pop_all(all, 0ms));
  EXPECT_EQ(all, (std::vector<int>{2, 3, 4}));  // the newest survive, oldest first
  EXPECT_FALSE(ring.pop_all(all, 0ms));
  EXPECT_TRUE(all.empty());
}

TEST(RingBuffer, CapacityOneKeepsOnlyTheNewest) {
  RingBuffer<std::unique_ptr<int>> ring(1);  // move-only items work
  ring.push(std::make_unique<int>(1));
  ring.push(std::make_unique<int>(2));
  ring.push(std::make_unique<int>(3));
  EXPECT_EQ(ring.dropped(), 2);
  auto v = ring.pop_for(0ms);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(**v, 3);
  EXPECT_THROW(RingBuffer<int>(0), std::invalid_argument);
}

TEST(RingBuffer, CloseWakesABlockedConsumerAndDrainsWhatIsLeft) {
  RingBuffer<int> ring(4);
  auto waiting = std::async(std::launch::async, [&] { return ring.pop(); });  // blocks: nothing queued
  EXPECT_EQ(waiting.wait_for(100ms), std::future_status::timeout);
  ring.close();
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready) << "close() did not wake pop()";
  EXPECT_EQ(waiting.get(), std::nullopt);

  RingBuffer<int> left(4);
  left.push(7);
  left.push(8);
  left.close();
  EXPECT_EQ(left.push(9), PushResult::kClosed);  // refused, not a drop
  EXPECT_EQ(left.dropped(), 0);
  EXPECT_FALSE(left.drained());                  // items captured before the end still come out
  EXPECT_EQ(left.pop(), 7);
  std::vector<int> rest;
  EXPECT_TRUE(left.pop_all(rest, 1h));           // closed: returns at once, no wait
  EXPECT_EQ(rest, (std::vector<int>{8}));
  EXPECT_TRUE(left.drained());
  EXPECT_EQ(left.pop(), std::nullopt);
  EXPECT_FALSE(left.pop_all(rest, 1h));
}

TEST(RingBuffer, PopAllWakesOnPush) {
  RingBuffer<int> ring(4);
  std::vector<int> got;
  auto consumer = std::async(std::launch::async, [&] { return ring.pop_all(got, 1h); });
  EXPECT_EQ(consumer.wait_for(50ms), std::future_status::timeout);
  ring.push(5);
  ASSERT_EQ(consumer.wait_for(5s), std::future_status::ready) << "push() did not wake pop_all()";
  EXPECT_TRUE(consumer.get());
  EXPECT_EQ(got, (std::vector<int>{5}));
}

// The producer never waits for a consumer that does not pop: 100000 pushes into a buffer of 8
// finish (on a worker, bounded by a generous deadline) with every excess item counted.
TEST(RingBuffer, ProducerNeverBlocksOnAStalledConsumer) {
  RingBuffer<int> ring(8);
  constexpr int kItems = 100000;
  auto producer = std::async(std::launch::async, [&] {
    for (int i = 0; i < kItems; ++i) ring.push(i);
  });
  ASSERT_EQ(producer.wait_for(20s), std::future_status::ready) << "push() blocked with nobody popping";
  EXPECT_EQ(ring.pushed(), kItems);
  EXPECT_EQ(ring.dropped(), kItems - 8);
  std::vector<int> left;
  ASSERT_TRUE(ring.pop_all(left, 0ms));
  ASSERT_EQ(left.size(), 8u);
  EXPECT_EQ(left.front(), kItems - 8);
  EXPECT_EQ(left.back(), kItems - 1);
}

// One producer, one slow consumer: every item is either consumed or counted as dropped, and
// the consumer sees increasing values (drop-oldest never reorders).
TEST(RingBuffer, EveryItemIsConsumedOrCountedUnderConcurrency) {
  RingBuffer<int> ring(16);
  constexpr int kItems = 20000;
  std::atomic<int64_t> consumed{0};
  std::atomic<bool> ordered{true};
  std::thread consumer([&] {
    std::vector<int> batch;
    int last = -1;
    while (ring.pop_all(batch, 1s) || !ring.drained()) {
      for (int v : batch) {
        if (v <= last) ordered = false;
        last = v;
      }
      consumed += int64_t(batch.size());
      std::this_thread::sleep_for(std::chrono::microseconds(50));  // slower than the producer
    }
  });
  for (int i = 0; i < kItems; ++i) ring.push(i);
  ring.close();
  consumer.join();
  EXPECT_TRUE(ordered);
  EXPECT_EQ(consumed + ring.dropped(), kItems);
  EXPECT_EQ(ring.pushed(), kItems);
}

}  // namespace
}  // namespace sfvu::cli
