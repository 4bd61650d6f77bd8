/*
 * thallium-bulk-server: thallium's bulk API (thallium.hpp) on a server.
 *
 *   thallium-bulk-server PROTOCOL ADDRESS_FILE
 *
 * Defines, on an engine with a progress thread and one RPC execution stream:
 *   "pull"     (bulk, offset, size) -> (transfer_outcome, checksum of the
 *              bytes pulled, the bulk's size, its segment count): exposes
 *              size bytes write_only and pulls the caller's bytes
 *              b.select(offset, size).on(caller) >> local
 *   "push"     (bulk, offset, size, seed) -> transfer_outcome: fills size
 *              bytes with bulk_byte(i, seed), exposes them read_only and
 *              pushes them: local >> b.select(offset, size).on(caller)
 *   "get_blob" () -> a bulk of this server's BLOB (2 segments, read_write,
 *              filled with bulk_byte(i, 77)), for the caller to transfer with
 *   "blob_sum" (offset, size) -> checksum of those bytes of the BLOB
 *   "stash"    (bulk) -> its size; keeps a copy of the bulk
 *   "late"     () -> transfer_outcome of pulling 16 bytes from the stashed
 *              bulk (then forgets it)
 *   "echo"     (tagged_bulk, vector<bulk>) -> (the tagged_bulk, the
 *              vector's length, the sum of its sizes, its null bulks)
 * A transfer that fails is answered with the margo_exception's code and
 * what(). Prints its address, writes it to ADDRESS_FILE and waits until a
 * client shuts it down; exits 0.
 */
#include "thallium-bulk-types.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace tl = thallium;

/* Runs a transfer; reports its bytes, or the error it threw. */
template <typename F> static transfer_outcome attempt(F&& transfer) {
    transfer_outcome out;
    try {
        out.moved = transfer();
        out.code  = 0;
    } catch(const tl::margo_exception& ex) {
        out.code = static_cast<std::int32_t>(ex.error());
        out.what = ex.what();
    }
    return out;
}

int main(int argc, char** argv) {
    if(argc != 3) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL ADDRESS_FILE" << std::endl;
        return 2;
    }
    try {
        tl::engine engine(argv[1], THALLIUM_SERVER_MODE, true, 1);
        engine.enable_remote_shutdown();

        engine.define("pull", [&engine](const tl::request& req, tl::bulk& b, std::uint64_t offset, std::uint64_t size) {
            std::vector<unsigned char> local(size);
            tl::bulk mine = engine.expose({{local.data(), local.size()}}, tl::bulk_mode::write_only);
            transfer_outcome out = attempt([&] { return b.select(offset, size).on(req.get_endpoint()) >> mine; });
            req.respond(out, bulk_checksum(local.data(), static_cast<std::size_t>(out.moved)),
                        static_cast<std::uint64_t>(b.size()), b.segment_count());
        });

        engine.define("push", [&engine](const tl::request& req, const tl::bulk& b, std::uint64_t offset,
                                        std::uint64_t size, std::uint32_t seed) {
            std::vector<unsigned char> local(size);
            for(std::uint64_t i = 0; i < size; ++i) local[i] = bulk_byte(i, seed);
            tl::bulk mine = engine.expose({{local.data(), local.size()}}, tl::bulk_mode::read_only);
            req.respond(attempt([&] { return mine >> b.select(offset, size).on(req.get_endpoint()); }));
        });

        /* The BLOB: two segments exposed as one read_write bulk. */
        std::vector<unsigned char> blob0(BLOB_SEG0), blob1(BLOB_SIZE - BLOB_SEG0);
        for(std::uint64_t i = 0; i < BLOB_SIZE; ++i)
            (i < BLOB_SEG0 ? blob0[i] : blob1[i - BLOB_SEG0]) = bulk_byte(i, 77);
        tl::bulk blob = engine.expose({{blob0.data(), blob0.size()}, {blob1.data(), blob1.size()}},
                                      tl::bulk_mode::read_write);
        engine.define("get_blob", [&blob](const tl::request& req) { req.respond(blob); });
        engine.define("blob_sum", [&](const tl::request& req, std::uint64_t offset, std::uint64_t size) {
            if(offset > BLOB_SIZE || size > BLOB_SIZE - offset) throw std::out_of_range("blob_sum: past the BLOB");
            std::vector<unsigned char> bytes;
            bytes.reserve(size);
            for(std::uint64_t i = offset; i < offset + size; ++i)
                bytes.push_back(i < BLOB_SEG0 ? blob0[i] : blob1[i - BLOB_SEG0]);
            req.respond(bulk_checksum(bytes.data(), bytes.size()));
        });

        std::mutex stash_mutex;
        tl::bulk   stashed;
        engine.define("stash", [&](const tl::request& req, const tl::bulk& b) {
            std::lock_guard<std::mutex> lock(stash_mutex);
            stashed = b;
            req.respond(static_cast<std::uint64_t>(stashed.size()));
        });
        engine.define("late", [&](const tl::request& req) {
            tl::bulk b;
            {
                std::lock_guard<std::mutex> lock(stash_mutex);
                b = std::move(stashed);
            }
            std::vector<unsigned char> local(16);
            tl::bulk mine = engine.expose({{local.data(), local.size()}}, tl::bulk_mode::write_only);
            req.respond(attempt([&] { return b.on(req.get_endpoint()) >> mine; }));
        });

        engine.define("echo", [](const tl::request& req, const tagged_bulk& t, const std::vector<tl::bulk>& v) {
            std::uint64_t total = 0, nulls = 0;
            for(const tl::bulk& b : v) {
                total += b.size();
                nulls += b.is_null() ? 1 : 0;
            }
            req.respond(t, static_cast<std::uint64_t>(v.size()), total, nulls);
        });

        const std::string address = engine.self();
        std::cout << address << std::endl;
        const std::string path = argv[2];
        const std::string tmp  = path + ".tmp";
        {
            std::ofstream out(tmp);
            out << address << "\n";
            if(!out.good()) {
                std::cerr << "thallium-bulk-server: could not write " << tmp << std::endl;
                return 1;
            }
        }
        if(std::rename(tmp.c_str(), path.c_str()) != 0) {
            std::perror(path.c_str());
            return 1;
        }

        engine.wait_for_finalize();
        std::cerr << "thallium-bulk-server: finalized" << std::endl;
    } catch(const tl::exception& ex) {
        std::cerr << "thallium-bulk-server: " << ex.what() << std::endl;
        return 1;
    }
    return 0;
}
