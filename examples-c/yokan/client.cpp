// A Yokan C++ client written against upstream's header-only API.
// Usage: yokan-client-cxx PROTOCOL ADDRESS PROVIDER_ID
#include <yokan/cxx/client.hpp>
#include <yokan/cxx/database.hpp>
#include <yokan/cxx/exception.hpp>
#include <yokan/cxx/extras.hpp>
#include <margo.h>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL ADDRESS PROVIDER_ID\n";
        return 2;
    }
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    hg_addr_t addr = HG_ADDR_NULL;
    if (mid == MARGO_INSTANCE_NULL || margo_addr_lookup(mid, argv[2], &addr) != HG_SUCCESS) return 1;
    uint16_t provider_id = static_cast<uint16_t>(std::atoi(argv[3]));
    {
        yokan::Client client(mid);
        try {
            client.makeDatabaseHandle(addr, static_cast<uint16_t>(provider_id + 100));
            std::cerr << "expected an exception for a wrong provider id\n";
            return 1;
        } catch (const yokan::Exception& e) {
            if (e.code() != YOKAN_ERR_INVALID_PROVIDER) return 1;
        }
        yokan::Database db = client.makeDatabaseHandle(addr, provider_id);
        std::string k = "cxx-key", v = "cxx-value";
        db.put(k.data(), k.size(), v.data(), v.size());
        if (!db.exists(k.data(), k.size()) || db.length(k.data(), k.size()) != v.size()) return 1;
        char buf[32];
        size_t vsize = sizeof buf;
        db.get(k.data(), k.size(), buf, &vsize);
        if (std::string(buf, vsize) != v) return 1;
        try {
            db.length("nope", 4);
            return 1;
        } catch (const yokan::Exception& e) {
            if (e.code() != YOKAN_ERR_KEY_NOT_FOUND || std::string(e.what()) != "Key not found") return 1;
        }
        std::string got;
        db.fetch(k.data(), k.size(), [&](size_t, const void*, size_t, const void* val, size_t vs) {
            got.assign(static_cast<const char*>(val), vs);
            return YOKAN_SUCCESS;
        });
        if (got != v) return 1;
        // A yokan::Timeout after the mode bounds that one call: a generous
        // one changes nothing, a short one ends a WAIT for a key that never
        // comes with YOKAN_ERR_TIMEOUT instead of blocking. An lmdb database
        // refuses WAIT (YOKAN_ERR_MODE, at once; upstream's does too), so
        // there only the refusal is checked; run.sh also runs this on a map.
        const yokan::Timeout generous{10000};
        vsize = sizeof buf;
        db.get(k.data(), k.size(), buf, &vsize, YOKAN_MODE_DEFAULT, generous);
        if (std::string(buf, vsize) != v || !db.exists(k.data(), k.size(), YOKAN_MODE_DEFAULT, generous)) return 1;
        got.clear();
        db.fetch(k.data(), k.size(), [&](size_t, const void*, size_t, const void* val, size_t vs) {
            got.assign(static_cast<const char*>(val), vs);
            return YOKAN_SUCCESS;
        }, YOKAN_MODE_DEFAULT, generous);
        if (got != v) return 1;
        const auto start = std::chrono::steady_clock::now();
        try {
            vsize = sizeof buf;
            db.get("cxx-never", 9, buf, &vsize, YOKAN_MODE_WAIT, yokan::Timeout{100});
            std::cerr << "a WAIT get of an absent key returned despite its 100 ms timeout\n";
            return 1;
        } catch (const yokan::Exception& e) {
            const auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
            const bool expired = e.code() == YOKAN_ERR_TIMEOUT && ms >= 50 && ms <= 5000;
            const bool refused = e.code() == YOKAN_ERR_MODE && ms <= 5000;
            if (!expired && !refused) {
                std::cerr << "WAIT get with Timeout{100}: code " << e.code() << " after " << ms << " ms\n";
                return 1;
            }
            std::cout << (expired ? "Timeout{100} ended a WAIT get after " : "WAIT refused by this backend after ")
                      << ms << " ms\n";
        }
        size_t n = 0;
        db.iter("", 0, "cxx", 3, 0, [&](size_t, const void*, size_t, const void*, size_t) {
            n++;
            return YOKAN_SUCCESS;
        });
        if (n != 1) return 1;
        // An exception thrown by a callback comes out of the call (it is
        // carried past libmochi's C frames, never unwound through them).
        try {
            db.fetch(k.data(), k.size(), [](size_t, const void*, size_t, const void*, size_t) -> yk_return_t {
                throw std::runtime_error("from the callback");
            });
            return 1;
        } catch (const std::runtime_error& e) {
            if (std::string(e.what()) != "from the callback") return 1;
        }
        // The Bulk forms: the payload (key sizes, keys) is memory exposed
        // with margo_bulk_create; fetchBulk's callback sees the value.
        std::vector<char> payload(sizeof(size_t) + k.size());
        size_t ksize = k.size();
        std::memcpy(payload.data(), &ksize, sizeof ksize);
        std::memcpy(payload.data() + sizeof ksize, k.data(), k.size());
        void* ptr = payload.data();
        hg_size_t len = payload.size();
        hg_bulk_t bulk = HG_BULK_NULL;
        if (margo_bulk_create(mid, 1, &ptr, &len, HG_BULK_READ_ONLY, &bulk) != HG_SUCCESS) return 1;
        got.clear();
        db.fetchBulk(1, nullptr, bulk, 0, payload.size(), [&](size_t, const void*, size_t, const void* val, size_t vs) {
            got.assign(static_cast<const char*>(val), vs);
            return YOKAN_SUCCESS;
        });
        if (got != v) return 1;
        try {
            db.existsBulk(1, nullptr, bulk, 0, payload.size());  // needs a read-write handle
            return 1;
        } catch (const yokan::Exception& e) {
            if (e.code() != YOKAN_ERR_READONLY) return 1;
        }
        db.eraseBulk(1, nullptr, bulk, 0, payload.size());
        margo_bulk_free(bulk);
        if (db.count() != 0) return 1;
    }
    margo_addr_free(mid, addr);
    margo_finalize(mid);
    std::cout << "C++ client: all Yokan operations OK\n";
    return 0;
}
