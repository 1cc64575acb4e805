// flat_index.h (private): open-addressing hash indexes for ByteBpe's tables. A Qwen2 vocab
// and merges list hold 150k entries each; with no node per entry and no std::string per key
// they load several times faster than std::unordered_map, and lookups take string_views.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sfvu::pathways {

/// string -> int32 value; the strings live in one arena.
class StringIndex {
 public:
  void reserve(size_t n) {
    rehash(slot_count_for(n));
    entries_.reserve(n);
  }
  /// False (nothing changed) when `key` is already there.
  bool insert(std::string_view key, int32_t value) {
    if ((entries_.size() + 1) * 2 > slots_.size()) rehash(slot_count_for(entries_.size() + 1));
    size_t slot = find_slot(key);
    if (slots_[slot] >= 0) return false;
    slots_[slot] = int32_t(entries_.size());
    entries_.push_back({arena_.size(), key.size(), value});
    arena_.append(key);
    return true;
  }
  /// The value of `key`, -1 when absent.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    int32_t e = slots_[find_slot(key)];
    return e < 0 ? -1 : entries_[size_t(e)].value;
  }
  size_t size() const { return entries_.size(); }
  std::string_view key(size_t entry) const {
    return std::string_view(arena_).substr(entries_[entry].offset, entries_[entry].length);
  }
  int32_t value(size_t entry) const { return entries_[entry].value; }

 private:
  struct Entry {
    size_t offset, length;
    int32_t value;
  };
  static size_t slot_count_for(size_t n) {
    size_t slots = 16;
    while (slots < n * 2) slots *= 2;
    return slots;
  }
  size_t find_slot(std::string_view key) const {  // of `key`, or the empty slot it would take
    const size_t mask = slots_.size() - 1;
    for (size_t slot = std::hash<std::string_view>()(key) & mask;; slot = (slot + 1) & mask) {
      int32_t e = slots_[slot];
      if (e < 0 || this->key(size_t(e)) == key) return slot;
    }
  }
  void rehash(size_t slot_count) {
    if (slot_count <= slots_.size()) return;
    slots_.assign(slot_count, -1);
    for (size_t e = 0; e < entries_.size(); ++e) slots_[find_slot(key(e))] = int32_t(e);
  }

  std::string arena_;
  std::vector<Entry> entries_;
  std::vector<int32_t> slots_;  ///< entry index, -1 = empty; at most half full
};

/// uint64 -> T, for keys other than ~0 (the empty marker).
template <typename T>
class U64Index {
 public:
  void reserve(size_t n) { rehash(slot_count_for(n)); }
  /// False (nothing changed) when `key` is already there.
  bool insert(uint64_t key, const T& value) {
    if ((count_ + 1) * 2 > keys_.size()) rehash(slot_count_for(count_ + 1));
    size_t slot = find_slot(key);
    if (keys_[slot] == key) return false;
    keys_[slot] = key;
    values_[slot] = value;
    ++count_;
    return true;
  }
  const T* find(uint64_t key) const {
    if (keys_.empty()) return nullptr;
    size_t slot = find_slot(key);
    return keys_[slot] == key ? &values_[slot] : nullptr;
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static size_t slot_count_for(size_t n) {
    size_t slots = 16;
    while (slots < n * 2) slots *= 2;
    return slots;
  }
  static size_t mix(uint64_t key) {  // splitmix64's finaliser: spreads pair keys over the slots
    key ^= key >> 30;
    key *= 0xBF58476D1CE4E5B9ull;
    key ^= key >> 27;
    key *= 0x94D049BB133111EBull;
    return size_t(key ^ (key >> 31));
  }
  size_t find_slot(uint64_t key) const {
    const size_t mask = keys_.size() - 1;
    for (size_t slot = mix(key) & mask;; slot = (slot + 1) & mask) {
      if (keys_[slot] == kEmpty || keys_[slot] == key) return slot;
    }
  }
  void rehash(size_t slot_count) {
    if (slot_count <= keys_.size()) return;
    std::vector<uint64_t> old_keys(slot_count, kEmpty);
    std::vector<T> old_values(slot_count);
    old_keys.swap(keys_);
    old_values.swap(values_);
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) {
        size_t slot = find_slot(old_keys[i]);
        keys_[slot] = old_keys[i];
        values_[slot] = old_values[i];
      }
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<T> values_;
  size_t count_ = 0;
};

}  // namespace sfvu::pathways
