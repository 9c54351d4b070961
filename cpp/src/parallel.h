// The batch calls' worker threads (Scorer::score_batch, score_files, ...).
#pragma once

#include "tinyfq/tinyfq.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace tinyfq {
namespace detail {

// An allocation failed: OutOfMemory or std::bad_alloc.
inline bool out_of_memory(const std::exception& e) {
    return dynamic_cast<const OutOfMemory*>(&e) || dynamic_cast<const std::bad_alloc*>(&e);
}

// What a result row says for e ("std::bad_alloc" says it less plainly).
inline std::string message(const std::exception& e) {
    return dynamic_cast<const std::bad_alloc*>(&e) ? "out of memory" : e.what();
}

// The status a batch reports for a file whose scoring threw e.
inline Status status_of(const std::exception& e) {
    if (dynamic_cast<const FileNotFound*>(&e)) return Status::missing;
    if (dynamic_cast<const Unsupported*>(&e)) return Status::unsupported;
    return Status::invalid;
}

// The worker count of a batch call: its own, else the scorer's option, else every core.
inline int resolve_workers(int workers, const Options& opt) {
    if (workers <= 0) workers = opt.workers;
    return workers <= 0 ? hardware_workers() : workers;
}

// The address space a worker thread is allowed besides its stack: a heap arena of the C
// library's (glibc reserves 64 MiB for each of a process's first 8 threads per core), a
// photo's pixels and the network's blobs. And what stays free for the rest of the process.
constexpr std::uint64_t kWorkerBytes = 64u << 20, kReserveBytes = 64u << 20;

// How many more worker threads an address-space limit (RLIMIT_AS: `ulimit -v`, some
// containers) leaves room for; INT_MAX without one. Without this, threads start until the
// limit refuses one, and the memory their first items need is then missing: when a new
// thread's first use of a library's thread-local data cannot get its few bytes, the C library
// ends the process.
inline int thread_room() {
#if defined(__linux__)
    rlimit r{};
    if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return INT_MAX;
    unsigned long long pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%llu", &pages) != 1) pages = 0;
        std::fclose(f);
    }
    const long page = sysconf(_SC_PAGESIZE);
    if (pages == 0 || page <= 0) return INT_MAX;  // cannot tell: let the threads be refused
    std::uint64_t stack = 8u << 20;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        std::size_t sz = 0;
        if (pthread_attr_getstacksize(&attr, &sz) == 0 && sz > 0) stack = sz;
        pthread_attr_destroy(&attr);
    }
    const std::uint64_t used = std::uint64_t(pages) * std::uint64_t(page);
    const std::uint64_t limit = std::uint64_t(r.rlim_cur);
    if (used + kReserveBytes >= limit) return 0;
    return int(
        std::min<std::uint64_t>((limit - used - kReserveBytes) / (stack + kWorkerBytes), INT_MAX));
#else
    return INT_MAX;
#endif
}

// Run fn(i, alone) for i in [0, n) on `workers` threads; `alone` says that no other worker is
// running. The first exception is rethrown after the join; the remaining items are skipped
// once one has failed.
//
// Fewer threads when the system gives fewer: no more than thread_room() allows, and a thread
// that cannot start (a container's thread limit) is not waited for: never std::terminate on a
// joinable thread.
// A worker whose allocation fails while others run leaves its item and stops, and its
// thread's pools go with it; after the join the calling thread, alone, takes the items left
// that way, then any that no worker reached. Only a failure when alone counts as a failure.
template <class F>
void parallel_for(std::size_t n, int workers, F fn) {
    workers =
        int(std::min<std::size_t>(std::size_t(std::max(workers, 1)), std::max<std::size_t>(n, 1)));
    if (workers > 1) workers = 1 + std::min(workers - 1, thread_room());  // + the caller
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first;
    std::vector<std::size_t> later;  // items whose allocations failed beside other workers
    std::mutex mu;
    auto run = [&](std::size_t i, bool alone) {  // false: this worker is to stop
        try {
            fn(i, alone);
            return true;
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu);
            if (!alone && out_of_memory(e)) {
                later.push_back(i);  // reserved below: never throws
                return false;
            }
            if (!first) first = std::current_exception();
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!first) first = std::current_exception();
        }
        failed = true;
        return false;
    };
    auto work = [&](bool alone) {
        for (std::size_t i; !failed.load(std::memory_order_relaxed) && (i = next++) < n;)
            if (!run(i, alone)) return;
    };
    if (workers == 1) {
        work(true);
    } else {
        std::vector<std::thread> pool;
        try {
            later.reserve(std::size_t(workers));  // each worker leaves at most one item
            pool.reserve(workers - 1);
            for (int t = 1; t < workers; ++t) pool.emplace_back(work, false);
        } catch (const std::exception&) {  // std::system_error, std::bad_alloc
        }
        work(pool.empty());  // the calling thread is a worker too
        for (auto& t : pool) t.join();
        std::sort(later.begin(), later.end());
        for (std::size_t i : later)
            if (failed || !run(i, true)) break;
        work(true);
    }
    if (first) std::rethrow_exception(first);
}

// The decode options of a batch call's files: its pixel bound and the scorer's EXIF option.
inline DecodeOptions file_decode(std::int64_t max_pixels, const Options& opt) {
    DecodeOptions d;
    d.max_pixels = max_pixels;
    d.exif_orientation = opt.exif_orientation;
    return d;
}

// The per-file batch calls (score_files, score_files_faces, score_files_factors): body(i) for
// each file on `workers` threads, its row reset by reset(i) and marked ok first. A file whose
// body throws keeps a reset row with the exception's message and status, and the batch goes
// on; an allocation failure beside other workers goes to parallel_for, which tries the file
// again alone.
template <class Reset, class Body>
void for_each_file(std::size_t n, int workers, std::string* errors, Status* status, Reset reset,
                   Body body) {
    parallel_for(n, workers, [&](std::size_t i, bool alone) {
        reset(i);
        errors[i].clear();
        status[i] = Status::ok;
        try {
            body(i);
        } catch (const std::exception& e) {
            if (!alone && out_of_memory(e)) throw;  // tried again, alone
            reset(i);
            errors[i] = message(e), status[i] = status_of(e);
        }
    });
}

}  // namespace detail
}  // namespace tinyfq
