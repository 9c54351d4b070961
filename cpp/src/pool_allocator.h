// An ncnn allocator that keeps the buffers a forward pass frees for the next pass: one user at
// a time, no lock (a call's own pool); and the list that keeps such pools between calls.
//
// ncnn's UnlockedPoolAllocator does the same, but when the C library refuses an allocation it
// still books the null pointer as a buffer in use, and its destructor later prints "FATAL
// ERROR! unlocked pool allocator destroyed too early" for it. This one books only what it
// handed out, and before it gives up on an allocation it returns the buffers it keeps.
#pragma once

#include <allocator.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace tinyfq {
namespace detail {

class PoolAllocator final : public ncnn::Allocator {
public:
    PoolAllocator() = default;
    PoolAllocator(const PoolAllocator&) = delete;
    PoolAllocator& operator=(const PoolAllocator&) = delete;
    ~PoolAllocator() override { release(); }

    void* fastMalloc(std::size_t size) override {
        // The smallest kept buffer that holds `size` without wasting more than a quarter of it.
        auto best = kept_.end();
        for (auto it = kept_.begin(); it != kept_.end(); ++it)
            if (it->first >= size && it->first - it->first / 4 <= size &&
                (best == kept_.end() || it->first < best->first))
                best = it;
        if (best != kept_.end()) {
            const Buffer b = *best;
            kept_.erase(best);
            return lend(b);
        }
        // None fits: make room for a new one by returning the oldest kept buffer.
        if (kept_.size() >= kMaxKept) {
            ncnn::fastFree(kept_.front().second);
            kept_.erase(kept_.begin());
        }
        void* p = ncnn::fastMalloc(size);
        if (!p && !kept_.empty()) {
            release();
            p = ncnn::fastMalloc(size);
        }
        return p ? lend({size, p}) : nullptr;  // null: ncnn's Mat stays empty
    }

    void fastFree(void* ptr) override {
        auto it = std::find_if(lent_.begin(), lent_.end(),
                               [ptr](const Buffer& b) { return b.second == ptr; });
        if (it == lent_.end()) return;  // not ours (ncnn frees only what this pool lent)
        const Buffer b = *it;
        lent_.erase(it);
        try {
            kept_.push_back(b);
        } catch (...) {  // no room to book it: give it back instead
            ncnn::fastFree(b.second);
        }
    }

private:
    using Buffer = std::pair<std::size_t, void*>;  // (size, pointer)
    static constexpr std::size_t kMaxKept = 16;

    void* lend(const Buffer& b) {
        try {
            lent_.push_back(b);
        } catch (...) {
            ncnn::fastFree(b.second);
            return nullptr;
        }
        return b.second;
    }

    void release() {
        for (const Buffer& b : kept_) ncnn::fastFree(b.second);
        kept_.clear();
    }

    std::vector<Buffer> kept_, lent_;
};

// What a Scorer or Detector keeps between calls for the next one (its pools, with an extractor
// for the Scorer): take() lends one to a call (null when none is idle), give() takes it back.
// give() never throws: one there is no room to keep is dropped.
template <class T>
class IdleList {
public:
    std::unique_ptr<T> take() {
        std::lock_guard<std::mutex> lock(mu_);
        if (items_.empty()) return nullptr;
        std::unique_ptr<T> p = std::move(items_.back());
        items_.pop_back();
        return p;
    }
    void give(std::unique_ptr<T> p) noexcept {
        if (!p) return;
        std::lock_guard<std::mutex> lock(mu_);
        try {
            items_.push_back(std::move(p));
        } catch (const std::bad_alloc&) {  // not kept: it goes now
        }
    }

private:
    std::mutex mu_;
    std::vector<std::unique_ptr<T>> items_;
};

}  // namespace detail
}  // namespace tinyfq
