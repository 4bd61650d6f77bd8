/*
 * thallium-bulk-types.hpp: what thallium-bulk-server and thallium-bulk-client
 * share: the bytes they fill buffers with, the checksum they compare, and the
 * outcome of a transfer the server tried.
 */
#ifndef THALLIUM_BULK_TYPES_HPP
#define THALLIUM_BULK_TYPES_HPP

#include <thallium.hpp>
#include <thallium/serialization/stl/string.hpp>
#include <thallium/serialization/stl/vector.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

/* The server's BLOB: two segments, 5 MiB + 17 bytes in all. */
#define BLOB_SEG0 (1u << 20)
#define BLOB_SIZE ((std::uint64_t(5) << 20) + 17)

/* Byte i of a buffer filled with seed. */
inline unsigned char bulk_byte(std::uint64_t i, std::uint32_t seed) {
    return static_cast<unsigned char>((i * 131u + (i >> 11) + seed * 7u) & 0xffu);
}

/* FNV-1a over n bytes. */
inline std::uint64_t bulk_checksum(const unsigned char* p, std::size_t n) {
    std::uint64_t h = 14695981039346656037ull;
    for(std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* What the server's attempt at a transfer gave: code 0 and the bytes moved,
 * or the hg_return_t of the thallium::margo_exception and its what(). */
struct transfer_outcome {
    std::int32_t  code  = -1;
    std::uint64_t moved = 0;
    std::string   what;

    template <typename A> void serialize(A& ar) { ar & code & moved & what; }
};

/* A bulk inside a user type (serialized by its serialize member). */
struct tagged_bulk {
    thallium::bulk b;
    std::string    tag;

    template <typename A> void serialize(A& ar) { ar & tag & b; }
};

#endif /* THALLIUM_BULK_TYPES_HPP */
