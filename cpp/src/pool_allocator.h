// An ncnn allocator that keeps the buffers a forward pass frees for the next pass: one user at
// a time, no lock (a thread's or a lease's own pool).
//
// ncnn's UnlockedPoolAllocator does the same, but when the C library refuses an allocation it
// still books the null pointer as a buffer in use, and its destructor later prints "FATAL
// ERROR! unlocked pool allocator destroyed too early" for it. This one books only what it
// handed out, and before it gives up on an allocation it returns the buffers it keeps.
#pragma once

#include <allocator.h>

#include <algorithm>
#include <cstddef>
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

}  // namespace detail
}  // namespace tinyfq
