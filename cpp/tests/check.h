// The shared harness of the C++ test suites: CHECK, a few helpers, and the main() each suite
// uses. Every suite is its own executable (cpp/tests/test_<suite>.cpp), run by ctest natively or
// under qemu-aarch64 through CMAKE_CROSSCOMPILING_EMULATOR.
#pragma once

#include "tinyfq/tinyfq.h"

#include "fused.h"
#include "internal.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>

namespace tinyfq_test {

inline int failures = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++tinyfq_test::failures;                                                      \
        }                                                                                 \
    } while (0)

template <class E, class F>
bool throws(F f) {
    try {
        f();
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

inline tinyfq::ModelInfo info64() { return tinyfq::Scorer().info(); }

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

inline bool uses_libjpeg() { return tinyfq::jpeg_decoder().rfind("libjpeg", 0) == 0; }

// The data rows of a golden CSV file (plain fields, no quoting), split at the commas.
inline std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
    std::ifstream f(path);
    CHECK(bool(f));
    std::vector<std::vector<std::string>> rows;
    std::string line, cell;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
        std::stringstream ss(line);
        rows.emplace_back();
        while (std::getline(ss, cell, ',')) rows.back().push_back(cell);
    }
    return rows;
}

// main() of a suite: ``args`` command-line arguments are required (their names in ``usage``).
inline int run_suite(const char* name, int argc, char** argv, int args, const char* usage,
                     const std::function<void(char**)>& suite) {
    if (argc < args + 1) {
        std::fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        return 2;
    }
    try {
        suite(argv + 1);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: unexpected exception: %s\n", name, e.what());
        return 1;
    }
    std::printf("%s: %s\n", name, failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}

}  // namespace tinyfq_test
