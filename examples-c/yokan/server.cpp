/*
 * yokan-server-cxx: yokan::Provider (yokan/cxx/server.hpp) owning a
 * provider the program registers, reached with the C++ client; one process.
 *
 *   yokan-server-cxx PROTOCOL
 *
 * Prints one line per check; exits with the number of failed checks.
 */
#include <yokan/cxx/client.hpp>
#include <yokan/cxx/database.hpp>
#include <yokan/cxx/server.hpp>

#include <iostream>
#include <string>
#include <utility>

static int failures = 0;

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

int main(int argc, char** argv) {
    margo_instance_id mid = margo_init(argc > 1 ? argv[1] : "na+sm", MARGO_SERVER_MODE, 0, 0);
    if(mid == MARGO_INSTANCE_NULL) return 1;
    hg_addr_t self;
    margo_addr_self(mid, &self);
    try {
        yokan::Provider provider(mid, 7, R"({"database":{"type":"unordered_map"}})");
        check(provider.getConfig().find("unordered_map") != std::string::npos, "Provider::getConfig");
        yokan::Provider moved(std::move(provider));
        check(provider.handle() == YOKAN_PROVIDER_NULL && moved.handle() != YOKAN_PROVIDER_NULL,
              "a move hands the provider over");
        yokan::Client   client(mid);
        yokan::Database db = client.makeDatabaseHandle(self, 7);
        db.put("k", 1, "v", 1);
        char   buf[4];
        size_t vsize = sizeof buf;
        db.get("k", 1, buf, &vsize);
        check(vsize == 1 && buf[0] == 'v', "put/get through the provider");
        try {
            yokan::Provider clash(mid, 7, R"({"database":{"type":"map"}})");
            check(false, "a taken provider id throws");
        } catch(const yokan::Exception& ex) {
            check(ex.code() == YOKAN_ERR_INVALID_PROVIDER, std::string("a taken provider id throws: ") + ex.what());
        }
    } catch(const yokan::Exception& ex) {
        check(false, std::string("unexpected yokan::Exception: ") + ex.what());
    }
    /* A provider still alive when the instance finalizes is destroyed then. */
    auto* late = new yokan::Provider(mid, 8, R"({"database":{"type":"map"}})");
    margo_addr_free(mid, self);
    margo_finalize(mid);
    check(late->handle() == YOKAN_PROVIDER_NULL, "finalize destroyed the provider the object owns");
    delete late;
    std::cout << failures << " failure(s)" << std::endl;
    return failures;
}
